// A TCP relay in front of a server (PostgreSQL, Redis) that plays the network's failures: cut off
// (`blackhole`: connections stay open, nothing passes either way, as in a partition; healed, the
// server's side of each connection is left as a partition leaves it), and a reply lost on the way back (`dropReply`: the server's answer matching it is swallowed and the
// connection cut, so the client cannot know whether what it sent took effect).
import type { Socket } from "bun";

interface Pair {
  readonly client: Socket<Side>;
  server: Socket<Side> | null;
  /** Client bytes that came before the server connection was open. */
  readonly pending: Uint8Array[];
}
interface Side {
  pair: Pair;
}

export interface TcpRelay {
  readonly port: number;
  blackhole: boolean;
  /** Swallows the first server reply whose text (latin1) matches, cuts that connection, and clears itself. */
  dropReply: ((text: string) => boolean) | null;
  /** Swallows the first server reply whose text matches and turns `blackhole` on (a cut in mid-conversation, just after the server acted), and clears itself. */
  blackholeOnReply: ((text: string) => boolean) | null;
  /** Resolves once a reply was dropped. */
  readonly dropped: Promise<void>;
  /** Resolves once a client closed a connection during a cut (the server's side of it stays open). */
  readonly severed: Promise<void>;
  /** Closes every connection (the clients see them end). */
  resetAll(): void;
  stop(): void;
}

export function startTcpRelay(targetPort: number): TcpRelay {
  const pairs = new Set<Pair>();
  /** Connections the client closed during a cut: their server side stays open until the relay stops. */
  const severed = new Set<Pair>();
  const dropped = Promise.withResolvers<void>();
  const severedOnce = Promise.withResolvers<void>();
  const cut = (pair: Pair) => {
    pairs.delete(pair);
    pair.client.terminate();
    pair.server?.terminate();
  };
  const listener = Bun.listen<Side>({
    hostname: "127.0.0.1",
    port: 0,
    socket: {
      open(client) {
        const pair: Pair = { client, server: null, pending: [] };
        client.data = { pair };
        pairs.add(pair);
        Bun.connect<Side>({
          hostname: "127.0.0.1",
          port: targetPort,
          socket: {
            open(server) {
              server.data = { pair };
              pair.server = server;
              for (const chunk of pair.pending.splice(0)) server.write(chunk);
            },
            data(_server, chunk) {
              if (relay.blackhole || !pairs.has(pair)) return;
              if (relay.blackholeOnReply?.(Buffer.from(chunk).toString("latin1"))) {
                relay.blackholeOnReply = null;
                relay.blackhole = true;
                return;
              }
              const drop = relay.dropReply;
              if (drop?.(Buffer.from(chunk).toString("latin1"))) {
                relay.dropReply = null;
                cut(pair);
                dropped.resolve();
                return;
              }
              client.write(chunk);
            },
            close() {
              if (pairs.has(pair) && !relay.blackhole) cut(pair);
            },
            error() {},
          },
        }).catch(() => cut(pair));
      },
      data(client, chunk) {
        if (relay.blackhole) return;
        const { pair } = client.data;
        if (pair.server) pair.server.write(chunk);
        else pair.pending.push(new Uint8Array(chunk));
      },
      close(client) {
        const { pair } = client.data;
        if (!pairs.has(pair)) return;
        if (!relay.blackhole) return cut(pair);
        // Closed during a cut: the server never hears of it, healed or not (as across a real partition).
        pairs.delete(pair);
        severed.add(pair);
        severedOnce.resolve();
      },
      error() {},
    },
  });
  const relay: TcpRelay = {
    port: listener.port,
    blackhole: false,
    dropReply: null,
    blackholeOnReply: null,
    dropped: dropped.promise,
    severed: severedOnce.promise,
    resetAll() {
      for (const pair of [...pairs]) cut(pair);
    },
    stop() {
      listener.stop(true);
      relay.resetAll();
      for (const pair of severed) pair.server?.terminate();
      severed.clear();
    },
  };
  return relay;
}
