// The command line as a value: argv and the environment in, one CliCommand out. Nothing here
// prints, exits or reads the file system except through the `fileExists` it is given, so every
// flag, default and refusal is a unit test (args.test.ts); src/cli.ts runs what comes back.
import { parseArgs } from "node:util";
import { VERSION } from "../lib/version";
import { defaultProbeUrl, PROBE_TIMEOUT_MS } from "./probe";

export const DEFAULT_CONFIG_FILE = "config.json";
export const EXAMPLE_CONFIG_FILE = "config.example.json";
const CONFIG_FILE_ENV = "CM_OPEN_WEBUI_PROXY_CONFIG_FILE";
const PORT_ENV = "CM_OPEN_WEBUI_PROXY_PORT";
const DEFAULT_PORT = 3333;
const DEFAULT_HOSTNAME = "0.0.0.0";

export const HELP = `cm-open-webui-proxy ${VERSION}
OpenAI-compatible proxy: many LLM backends behind one endpoint.

Usage: cm-open-webui-proxy [options]
       cm-open-webui-proxy --init [file]
       cm-open-webui-proxy --probe [url]

Options:
  --config <file>   config file (env ${CONFIG_FILE_ENV}, default ${DEFAULT_CONFIG_FILE})
  --port <n>        port to listen on (env ${PORT_ENV}, default ${DEFAULT_PORT})
  --host <addr>     address to bind (default ${DEFAULT_HOSTNAME})
  --check-config    validate the config file, print its models, exit 0 (valid) or 1
  --init [file]     write an example config to start from, then exit: to <file>, else the
                    config file named as above, else ${DEFAULT_CONFIG_FILE}; an existing file is never replaced
  --probe [url]     health check for images without curl: GET <url> (default
                    http://127.0.0.1:<port>/ready, port as above), exit 0 on a 2xx, else 1 with
                    the reason on stderr; gives up after ${PROBE_TIMEOUT_MS / 1000} s
  --version         print the version
  --help            print this help

Environment: CM_OPEN_WEBUI_PROXY_LOG_FORMAT=json|text is the log format when the config's
log.format names none, and for errors before the config is read.

Serving re-executes the program once with BUN_CONFIG_MAX_HTTP_REQUESTS set to the config's
maxInFlight (default 4096 backend requests in flight) unless that variable is already set.
`;

/** The config file a command reads; `fromExample`: none was named and config.json is missing, so config.example.json stands in. */
interface ConfigChoice {
  readonly configPath: string;
  readonly fromExample: boolean;
}

export type CliCommand =
  | { readonly kind: "help" }
  | { readonly kind: "version" }
  | { readonly kind: "init"; readonly file: string }
  // configPath: a failed probe reports in the log format that file's log.format names.
  | { readonly kind: "probe"; readonly url: string; readonly configPath: string }
  | ({ readonly kind: "check" } & ConfigChoice)
  | ({ readonly kind: "serve"; readonly port: number; readonly hostname: string } & ConfigChoice)
  // withHelp: the arguments themselves make no sense (as opposed to a bad value), so the help follows the message.
  | { readonly kind: "usage-error"; readonly message: string; readonly withHelp: boolean };

export type CommandOf<K extends CliCommand["kind"]> = Extract<CliCommand, { kind: K }>;

const usageError = (message: string, withHelp: boolean): CommandOf<"usage-error"> => ({ kind: "usage-error", message, withHelp });

/** A named config file must exist; with none named, a missing config.json falls back to the example, if there is one. */
function chooseConfig(named: string | undefined, fileExists: (path: string) => boolean): ConfigChoice {
  if (named) return { configPath: named, fromExample: false };
  if (fileExists(DEFAULT_CONFIG_FILE) || !fileExists(EXAMPLE_CONFIG_FILE)) return { configPath: DEFAULT_CONFIG_FILE, fromExample: false };
  return { configPath: EXAMPLE_CONFIG_FILE, fromExample: true };
}

/**
 * What the command line asks for. A mistake in it is a `usage-error` command rather than a throw:
 * it is one of the outcomes of reading user input, the caller's exhaustive switch cannot forget it,
 * and a test compares it with toEqual like any other command.
 */
export function parseCli(argv: readonly string[], env: Readonly<Record<string, string | undefined>>, fileExists: (path: string) => boolean): CliCommand {
  let values, positionals;
  try {
    ({ values, positionals } = parseArgs({
      args: [...argv],
      options: {
        config: { type: "string" },
        port: { type: "string" },
        host: { type: "string" },
        "check-config": { type: "boolean" },
        init: { type: "boolean" },
        probe: { type: "boolean" },
        version: { type: "boolean" },
        help: { type: "boolean" },
      },
      strict: true,
      allowPositionals: true, // only --init (its file) and --probe (its URL) take one
    }));
  } catch (error) {
    return usageError((error as Error).message, true);
  }
  if (values.help) return { kind: "help" };
  if (values.version) return { kind: "version" };
  const named = values.config ?? (env[CONFIG_FILE_ENV] || undefined);
  const [file, extra] = positionals;
  if (values.init && values.probe) return usageError("--init and --probe cannot be combined", true);
  if (extra !== undefined || (file !== undefined && !values.init && !values.probe)) return usageError(`unexpected argument '${extra ?? file}'`, true);
  // Before the port is read: --init listens nowhere, so a bad port must not stop it.
  if (values.init) return { kind: "init", file: file ?? named ?? DEFAULT_CONFIG_FILE };
  const fromFlag = values.port !== undefined;
  const portText = fromFlag ? values.port : env[PORT_ENV] || undefined;
  // Decimal digits only: Number() reads "" and " " as 0 (any free port: `--port "$PORT"` with PORT unset), "0x1f90" as 8080.
  const port = portText === undefined ? DEFAULT_PORT : /^[0-9]+$/.test(portText) ? Number(portText) : Number.NaN;
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    return usageError(`${fromFlag ? "--port" : PORT_ENV}: expected a port number, got '${portText}'`, false);
  const config = chooseConfig(named, fileExists);
  if (values.probe) return { kind: "probe", url: file ?? defaultProbeUrl(port), configPath: config.configPath };
  if (values["check-config"]) return { kind: "check", ...config };
  return { kind: "serve", port, hostname: values.host ?? DEFAULT_HOSTNAME, ...config };
}
