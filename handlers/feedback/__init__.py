"""监督员反馈: guided filing, the office's handling, meetings."""
