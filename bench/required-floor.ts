// A reference, not one of the three targets the bars judge: the floor plus only the behaviour the
// core issue requires of every proxy (bench/required-work.ts), in a bare Bun.serve. What it costs
// over the floor is Bun's price for that behaviour, which no proxy can skip; when it misses a bar,
// no Bun proxy that keeps the required behaviour can meet it.
// Usage: FLOOR_BACKEND=http://127.0.0.1:PORT bun bench/required-floor.ts [port]
import { serveFloor } from "./floor-work";
import { forwardChatRequired } from "./required-work";

serveFloor(forwardChatRequired);
