# tls_server.py - the TLS server test_client.c talks to: http.server + ssl
# on 127.0.0.1, TLS 1.3 only (or 1.2 only with "tls12").  Usage:
#     python3 tls_server.py DIR [tls12]
# DIR holds cert.pem and key.pem; the server writes the port it listens on
# to DIR/port (DIR/port12), and appends one line per request that reached
# a handler to DIR/hits.log.
import http.server, json, os, ssl, sys
d = sys.argv[1]
tls12 = len(sys.argv) > 2 and sys.argv[2] == 'tls12'
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'
    def log_message(self, *a):
        pass
    def hit(self):
        with open(os.path.join(d, 'hits.log'), 'a') as f:
            f.write(self.command + ' ' + self.path + '\n')
    def reply(self, code, body, ctype='application/json', cl=True,
              notify=True):
        self.send_response(code)
        self.send_header('Content-Type', ctype)
        if cl:
            self.send_header('Content-Length', str(len(body)))
        else:
            self.send_header('Connection', 'close')
            self.close_connection = True
        self.end_headers()
        self.wfile.write(body)
        if not cl and notify:
            self.wfile.flush()
            try:
                self.connection.unwrap()
            except OSError:
                pass
    def do_GET(self):
        self.hit()
        p = self.path
        if p == '/v1/hello':
            self.reply(200, b'{"hello":"world"}')
        elif p == '/v1/headers':
            h = {k: self.headers.get(k, '') for k in
                 ('Authorization', 'Usetrace-Purpose', 'Content-Type')}
            self.reply(200, json.dumps(h).encode())
        elif p.startswith('/v1/big/'):
            self.reply(200, b'x' * int(p[8:]), 'text/plain')
        elif p.startswith('/v1/stream/'):
            self.reply(200, b'y' * int(p[11:]), 'text/plain', False)
        elif p.startswith('/v1/cut/'):
            self.reply(200, b'z' * int(p[8:]), 'text/plain', False,
                       False)
        elif p == '/v1/denied':
            self.reply(403, b'{"error":"denied",'
                       b'"message":"no\\u001b[31m access"}')
        else:
            self.reply(404, b'not json', 'text/plain')
    def do_POST(self):
        self.hit()
        n = int(self.headers.get('Content-Length', '0'))
        body = self.rfile.read(n)
        self.reply(201, body, self.headers.get('Content-Type', 'none'))
    do_PUT = do_POST
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
if tls12:
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
else:
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
pf = 'port12' if tls12 else 'port'
ctx.load_cert_chain(os.path.join(d, 'cert.pem'),
                    os.path.join(d, 'key.pem'))
s = http.server.ThreadingHTTPServer(('127.0.0.1', 0), H)
s.daemon_threads = True
s.socket = ctx.wrap_socket(s.socket, server_side=True,
                           do_handshake_on_connect=False)
with open(os.path.join(d, pf + '.tmp'), 'w') as f:
    f.write(str(s.server_address[1]))
os.rename(os.path.join(d, pf + '.tmp'), os.path.join(d, pf))
s.serve_forever()
