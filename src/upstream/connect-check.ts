import { withDeadline } from "../lib/deadline";

/**
 * Bun's fetch reports no "connected" moment, so a slow answer cannot be told from a backend that
 * never accepts the connection. When the answer is late, this opens a plain TCP connection to the
 * backend's host and port: resolves true once it is accepted, false on failure or after `withinMs`.
 */
export function canConnect(url: string, withinMs: number): Promise<boolean> {
  const { hostname, port, protocol } = new URL(url);
  const tcpPort = Number(port) || (protocol === "https:" ? 443 : 80);
  const attempt = Bun.connect({
    hostname: hostname.replace(/^\[|\]$/g, ""),
    port: tcpPort,
    socket: {
      data() {},
      open(socket) {
        socket.end();
      },
    },
  }).then(
    () => true,
    () => false,
  );
  return withDeadline(attempt, withinMs, () => false);
}
