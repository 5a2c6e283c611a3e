/* The emulator's stand-in for the DingTalk JSAPI (demo and tests only): just enough for 免登.
   The signed-in DingTalk user is the page's `dd_user` query parameter. */
(function () {
  var script = document.currentScript;
  var base = script ? script.src.replace(/\/h5\/dd\.js.*$/, "") : "";
  var readyCallbacks = [], errorCallbacks = [];
  function user() { return new URLSearchParams(location.search).get("dd_user") || ""; }
  window.dd = {
    env: {platform: "emulator"},
    ready: function (cb) { readyCallbacks.push(cb); setTimeout(function () { while (readyCallbacks.length) readyCallbacks.shift()(); }, 0); },
    error: function (cb) { errorCallbacks.push(cb); },
    runtime: {permission: {requestAuthCode: function (opts) {
      var url = base + "/h5/authCode?userId=" + encodeURIComponent(user()) + "&corpId=" + encodeURIComponent(opts.corpId || "");
      fetch(url).then(function (r) { return r.json(); }).then(function (data) {
        if (data.code) { opts.onSuccess && opts.onSuccess({code: data.code}); }
        else { opts.onFail && opts.onFail(data); }
      }).catch(function (e) { opts.onFail && opts.onFail({errorMessage: String(e)}); });
    }}}
  };
})();
