"""The connect engine: host discovery and the TCP connect scan.

probe (what an answer means) -> rtt, congestion (pure estimators) ->
scheduler (sans-I/O: what to send when) <- loop (the I/O loop, over a
backend: poll(), or fake.py's script; on the run's clock) -> messages (typed
events; wording has nmap's lines for them) -> events (the phase driver,
with split's second process) -> discovery, scan (the front door over
HostResults).
"""
