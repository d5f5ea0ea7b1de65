import net from "node:net";

/** A TCP port free on 127.0.0.1 right now (for servers the tests and benches start). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

/** A port nothing listens on (a moment ago something did): connections to it are refused. */
export const deadPort = freePort;
