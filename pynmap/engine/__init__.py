"""The connect engine: host discovery and the TCP connect scan.

probe (what an answer means) -> rtt, congestion (pure estimators) ->
scheduler (sans-I/O: what to send when) <- loop (the only sockets) ->
discovery, scan (the front door over HostResults; events.py glues them).
"""
