"""监督员反馈: feedback, meetings and their state changes."""
