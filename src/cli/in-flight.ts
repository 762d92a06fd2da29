// Bun's fetch keeps at most BUN_CONFIG_MAX_HTTP_REQUESTS requests in flight per process (256 when
// unset); further requests wait in a queue inside the process. Bun reads the variable once, when
// the process starts, so setting it later changes nothing. To serve thousands of streams without
// the operator knowing any of this, the CLI re-executes itself with the variable set to the
// config's `maxInFlight` (default 4096) before it starts serving.
import { constants } from "node:os";
import { DEFAULT_MAX_IN_FLIGHT, MAX_IN_FLIGHT_LIMIT } from "../config/in-flight-limits";
import { readJsonFileSync } from "../config/read-json";

export const MAX_IN_FLIGHT_ENV = "BUN_CONFIG_MAX_HTTP_REQUESTS";

type Env = Record<string, string | undefined>;

/**
 * The `maxInFlight` the config file asks for (the default when it names none), or null when the
 * file does not read as a JSON object or its value is not an integer from 1 to MAX_IN_FLIGHT_LIMIT: then serving
 * goes on without a re-exec, and the usual start-up error reports the file. Only this field is
 * read, without loading the config: everything done before the re-exec is done twice, and a file
 * invalid elsewhere is reported as well by the program started again.
 */
export function maxInFlightInFile(path: string): number | null {
  try {
    const file = readJsonFileSync(path);
    if (typeof file !== "object" || file === null || Array.isArray(file)) return null;
    const value = (file as { maxInFlight?: unknown }).maxInFlight;
    if (value === undefined) return DEFAULT_MAX_IN_FLIGHT;
    return Number.isInteger(value) && (value as number) >= 1 && (value as number) <= MAX_IN_FLIGHT_LIMIT ? (value as number) : null;
  } catch {
    return null;
  }
}

/** A compiled binary's entry point lives in Bun's embedded file system. */
export function isCompiledEntry(main: string): boolean {
  return main.startsWith("/$bunfs/") || /^[A-Za-z]:[\\/]~BUN[\\/]/.test(main);
}

export interface ProcessInfo {
  readonly execPath: string;
  readonly argv: readonly string[];
  readonly execArgv: readonly string[];
  /** `Bun.main`: the entry script, or the embedded path inside a compiled binary. */
  readonly main: string;
}

/**
 * The command that starts this program again with the same arguments. Under `bun src/cli.ts`
 * execPath is Bun, so Bun's own flags and the script path come first; a compiled binary is its own
 * program and gets only the user's arguments (its argv[1] is the embedded entry, added by Bun).
 */
export function relaunchCommand({ execPath, argv, execArgv, main }: ProcessInfo): string[] {
  const userArgs = argv.slice(2);
  if (isCompiledEntry(main)) return [execPath, ...userArgs];
  return [execPath, ...execArgv, argv[1] ?? main, ...userArgs];
}

export interface RelaunchOptions {
  readonly info?: ProcessInfo;
  readonly env?: Env;
  /** `process.execve` where the platform has it (not on Windows). */
  readonly execve?: ((file: string, args: readonly string[], env: Env) => never) | undefined;
  readonly platform?: NodeJS.Platform;
}

const FORWARDED_SIGNALS = ["SIGTERM", "SIGINT", "SIGHUP"] as const;

/**
 * Starts this program again with BUN_CONFIG_MAX_HTTP_REQUESTS=`limit`: in place with execve (same
 * PID, so signals and a container's PID 1 behave as before), else as a child that inherits stdio,
 * gets SIGTERM/SIGINT/SIGHUP forwarded, and whose exit code becomes this process's. Never returns.
 */
export async function relaunchWithLimit(limit: number, options: RelaunchOptions = {}): Promise<never> {
  const info = options.info ?? { execPath: process.execPath, argv: process.argv, execArgv: process.execArgv, main: Bun.main };
  const env = { ...(options.env ?? process.env), [MAX_IN_FLIGHT_ENV]: String(limit) };
  const [file, ...rest] = relaunchCommand(info);
  const execve = "execve" in options ? options.execve : process.execve?.bind(process);
  if (execve) {
    try {
      execve(file!, [file!, ...rest], env);
    } catch {
      // execve(2) failed and this process is unchanged: fall back to a child process.
    }
  }
  return runChild([file!, ...rest], env, options.platform ?? process.platform);
}

async function runChild(cmd: string[], env: Env, platform: NodeJS.Platform): Promise<never> {
  const windows = platform === "win32";
  // On POSIX the child gets its own process group, so a terminal's Ctrl-C reaches it once (forwarded
  // here), not twice (which the proxy reads as "close everything now"). A Windows console delivers
  // Ctrl-C to every process attached to it, and killing with SIGINT there terminates at once: leave
  // SIGINT to the console.
  const child = Bun.spawn(cmd, { env, stdio: ["inherit", "inherit", "inherit"], detached: !windows });
  const forward = (signal: NodeJS.Signals) => () => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
  };
  for (const signal of FORWARDED_SIGNALS) {
    if (windows && signal !== "SIGTERM") continue;
    process.on(signal, forward(signal));
  }
  const code = await child.exited;
  const signal = child.signalCode;
  const signalCode = typeof signal === "number" ? signal : signal ? constants.signals[signal] : undefined;
  process.exit(signalCode !== undefined ? 128 + signalCode : code);
}

/**
 * Before serving: unless BUN_CONFIG_MAX_HTTP_REQUESTS is already set (by the operator, who wins,
 * or by this very re-exec), re-executes the program with it set to the config's `maxInFlight`.
 * Returns (without re-executing) when the variable is set or the config cannot be loaded.
 */
export async function ensureInFlightLimit(configPath: string, env: Env = process.env): Promise<void> {
  if (env[MAX_IN_FLIGHT_ENV]) return;
  const limit = maxInFlightInFile(configPath);
  if (limit !== null) await relaunchWithLimit(limit, { env });
}
