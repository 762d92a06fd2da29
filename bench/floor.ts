// The floor: the least any Bun proxy can do per request. Parses the JSON body, rewrites `model`,
// sets Authorization, fetches the backend and returns its body stream. No validation, no header
// hygiene, no timeouts. Usage: FLOOR_BACKEND=http://127.0.0.1:PORT bun bench/floor.ts [port]
// Prints `LISTENING <port>`. `/v1/models` answers a string rendered at start, as the proxy does.
import { forwardChat, serveFloor } from "./floor-work";

serveFloor(async (request) => forwardChat((await request.json()) as { model: string }));
