"""A small nmap-service-probes file for the service scan's unit tests: a NULL
probe with an OpenSSH match and a softmatch, and three probes of low and high
rarity (tests/unit/conftest.py parses it for the `small` fixture)."""

SMALL = rb"""
Exclude T:9100
Probe TCP NULL q||
totalwaitms 6000
tcpwrappedms 3000
match ssh m|^SSH-([\d.]+)-OpenSSH_([\w._-]+)\r?\n| p/OpenSSH/ v/$2/ i/protocol $1/ cpe:/a:openbsd:openssh:$2/
softmatch foo m|^FOO |

Probe TCP Hello q|HELLO\r\n|
rarity 1
totalwaitms 5000
match hello m|^HI there| p/Hello server/

Probe TCP Rare q|RARE\r\n|
rarity 9
match foo m|^FOO .*rare answer|s p/Foo daemon/ v/2/

Probe TCP Other q|OTHER\r\n|
rarity 1
match bar m|^BAR|
"""
