#!/usr/bin/env bun
// The entry point: argv and the environment become a command (src/cli/args.ts), which
// src/cli/main.ts runs. A `serve` may first start the program again with Bun's fetch limit raised
// (src/cli/in-flight.ts), and whatever ran before that runs twice at every start-up; so this file
// imports only what that decision needs, and the app's modules load after it.
import { existsSync } from "node:fs";
import { parseCli } from "./cli/args";
import { holdSignals } from "./cli/held-signals";
import { ensureInFlightLimit } from "./cli/in-flight";

const command = parseCli(process.argv.slice(2), process.env, existsSync);
if (command.kind === "serve") await ensureInFlightLimit(command.configPath);
// After the re-exec (which would lose a signal held before it): from here on, a signal sent while
// the app's modules load is held for `serve` instead of killing the process.
const heldSignals = command.kind === "serve" ? holdSignals() : undefined;
const { main } = await import("./cli/main");
await main(command, process.env, heldSignals);
