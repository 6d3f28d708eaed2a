"""What the test proxies (faultproxy, ledger) share: a request handler that
reads a whole request, sends it on to a server on 127.0.0.1, and hands the
answer back."""

from __future__ import annotations

import http.client
from http.server import BaseHTTPRequestHandler

# Hop-by-hop headers, and the length the relay sets itself.
NOT_RELAYED = {"host", "content-length", "transfer-encoding", "connection"}


def forward(port: int, method: str, path: str, headers, body: bytes):
    """`method path` with `headers` and `body` sent to 127.0.0.1:`port`; (status, headers, body)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    sent = {k: v for k, v in headers.items() if k.lower() not in NOT_RELAYED}
    sent["Content-Length"] = str(len(body))
    sent["Host"] = f"127.0.0.1:{port}"
    conn.request(method, path, body=body if method != "HEAD" else None, headers=sent)
    resp = conn.getresponse()
    data = resp.read()
    conn.close()
    return resp.status, resp.getheaders(), data


class RelayHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes: with Nagle's algorithm on, a
    # keep-alive client waits out a delayed ACK (40 ms) for each.
    disable_nagle_algorithm = True

    def log_message(self, *args):
        pass

    def read_body(self) -> bytes:
        """The request's body, whether chunked or of a stated length."""
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            out = b""
            while size := int(self.rfile.readline().strip().split(b";")[0], 16):
                out += self.rfile.read(size)
                self.rfile.readline()
            self.rfile.readline()
            return out
        return self.rfile.read(int(self.headers.get("Content-Length", 0)))

    def reply(self, status: int, headers, data: bytes) -> None:
        """An upstream answer passed on; a HEAD answer keeps its length and has no body
        (bytes after its headers would be read as the next response)."""
        head = self.command == "HEAD"
        self.send_response(status)
        for k, v in headers:
            if (head and k.lower() == "content-length") or k.lower() not in NOT_RELAYED:
                self.send_header(k, v)
        if not head:
            self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if not head:
            self.wfile.write(data)
