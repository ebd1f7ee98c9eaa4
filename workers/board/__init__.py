"""The live board: a web page on every worker showing what waits in the agent queues.

``install_board`` adds it to a worker's Faust web server; everything it shows comes from
Redis, so any worker serves the whole board. See docs/board.md.
"""

from workers.board.web import install_board

__all__ = ["install_board"]
