"""监督看板: the H5 page office leaders open inside DingTalk (pages.py, board.py) and the `看板` command."""
