/* 监督看板 charts: Chartist (served by the bot) draws what #chart-data holds. No network calls. */
(function () {
  var data = JSON.parse(document.getElementById("chart-data").textContent || "{}");
  var C = window.Chartist;
  if (!C) { return; }
  function el(id) { return document.getElementById(id); }
  function legend(id, names) {
    var box = el(id);
    if (!box) return;
    var p = document.createElement("p");
    p.className = "chart-legend";
    var colours = ["#1677ff", "#ff9a2e", "#f53f3f", "#00b42a"];
    if (id === "chart-warnings") colours = ["#86909c", "#ff9a2e", "#f53f3f"];
    p.innerHTML = names.map(function (n, i) {
      return '<span class="sw" style="background:' + colours[i % colours.length] + '"></span>' + n.replace(/[<>&]/g, "");
    }).join(" ");
    box.parentNode.insertBefore(p, box.nextSibling);
  }
  var narrow = window.matchMedia("(max-width: 600px)").matches;
  if (data.rates && el("chart-rates")) {
    new C.LineChart("#chart-rates", {labels: data.rates.labels, series: [data.rates.values]}, {
      low: 0, high: 100, showArea: true, fullWidth: true, chartPadding: {right: 28, left: 0},
      lineSmooth: C.Interpolation.none({fillHoles: false}),
      axisY: {labelInterpolationFnc: function (v) { return v + "%"; }, offset: 40},
      axisX: {labelInterpolationFnc: function (v, i) { return narrow && i % 2 ? "" : v; }}
    });
  }
  if (data.types && data.types.labels.length && el("chart-types")) {
    new C.BarChart("#chart-types", {labels: data.types.labels, series: [data.types.values]}, {
      horizontalBars: true, reverseData: true, axisY: {offset: 70}, axisX: {onlyInteger: false},
      chartPadding: {right: 16}
    });
  }
  if (data.warnings && data.warnings.labels.length && el("chart-warnings")) {
    new C.BarChart("#chart-warnings", {labels: data.warnings.labels, series: data.warnings.series}, {
      horizontalBars: true, stackBars: true, axisY: {offset: 70}, axisX: {onlyInteger: true},
      chartPadding: {right: 16}
    });
    legend("chart-warnings", data.warnings.levels);
  }
  if (data.feedback && el("chart-feedback")) {
    new C.BarChart("#chart-feedback", {labels: data.feedback.labels, series: data.feedback.series}, {
      axisY: {onlyInteger: true, offset: 30}, seriesBarDistance: narrow ? 8 : 12, chartPadding: {right: 8}
    });
    legend("chart-feedback", data.feedback.names);
  }
})();
