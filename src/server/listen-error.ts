import { lookup } from "node:dns/promises";

/** The server could not bind its address; the message is one line naming the address and why. */
export class ListenError extends Error {
  override name = "ListenError";

  constructor(
    message: string,
    /** `host:port`, as the message names it. */
    readonly address: string,
  ) {
    super(message);
  }
}

export const hostPort = (hostname: string, port: number) => `${hostname.includes(":") ? `[${hostname}]` : hostname}:${port}`;

const hostResolves = (hostname: string) =>
  lookup(hostname).then(
    () => true,
    () => false,
  );

interface BindFailure {
  readonly code?: string;
  readonly message?: string;
}

/** Why a bind failed, from the error's code; a host that does not resolve is named before any code. */
export function listenFailureReason({ code, message }: BindFailure, hostname: string, port: number, resolvable: boolean): string {
  if (!resolvable) return `'${hostname}' is neither an IP address nor a host name that resolves`;
  switch (code) {
    case "EADDRINUSE":
      return `port ${port} is already in use`;
    case "EACCES":
      return "permission denied (ports below 1024 need extra privileges)";
    case "EADDRNOTAVAIL":
      return `${hostname} is not an address of this machine`;
    default:
      return (message || code || "unknown error").replace(/\s+/g, " ");
  }
}

/**
 * Turns the error Bun.serve threw into a ListenError. Bun reports a host it cannot resolve as
 * EADDRINUSE ("Is port 0 in use?"), so the host is looked up before the code is believed.
 */
export async function listenError(error: unknown, hostname: string, port: number, resolves = hostResolves): Promise<ListenError> {
  const failure = (typeof error === "object" && error !== null ? error : { message: String(error) }) as BindFailure;
  const address = hostPort(hostname, port);
  return new ListenError(`cannot listen on ${address}: ${listenFailureReason(failure, hostname, port, await resolves(hostname))}`, address);
}
