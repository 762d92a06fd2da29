import type { Logger } from "../lib/log";
import { loadConfig } from "./load";
import type { ProxyConfig } from "./proxy-config";

/**
 * Holds the running config. A reload validates the whole new file before one assignment swaps it
 * in, so a failed reload leaves the running config untouched and no request sees half of one.
 * Reloads run one at a time, in the order asked, so an older read never overwrites a newer one.
 */
export class LiveConfig {
  private snapshot: ProxyConfig;
  private queue: Promise<unknown> = Promise.resolve();
  private readonly listeners: ((config: ProxyConfig) => Promise<void>)[] = [];
  /** Reloads so far (the startup load is not one): what `cm_proxy_config_reloads_total` reports. */
  readonly reloads = { ok: 0, rejected: 0 };

  constructor(
    initial: ProxyConfig,
    private readonly log: Logger,
  ) {
    this.snapshot = initial;
  }

  get current(): ProxyConfig {
    return this.snapshot;
  }

  /** The startup config file: the only file a reload ever reads. */
  get path(): string {
    return this.snapshot.file;
  }

  /** Called after every successful reload, before `reload` resolves (the model catalog follows). */
  onChange(listener: (config: ProxyConfig) => Promise<void>): void {
    this.listeners.push(listener);
  }

  /** Re-reads the file; resolves to the new config, or rejects with a ConfigError (already logged). */
  reload(reason: string): Promise<ProxyConfig> {
    const run = this.queue.then(() => this.load(reason));
    this.queue = run.catch(() => {});
    return run;
  }

  private async load(reason: string): Promise<ProxyConfig> {
    try {
      this.snapshot = await loadConfig(this.path);
      this.reloads.ok++;
      this.log.info(`config reloaded (${reason}): ${this.snapshot.models.size} models from ${this.path}`, {
        reason,
        file: this.path,
        models: this.snapshot.models.size,
      });
      for (const warning of this.snapshot.warnings) this.log.warn(`${this.path}: ${warning}`, { file: this.path });
    } catch (error) {
      this.reloads.rejected++;
      this.log.warn(`config reload (${reason}) rejected, running config kept:\n${(error as Error).message}`, {
        reason,
        file: this.path,
        error: (error as Error).message,
      });
      throw error;
    }
    for (const listener of this.listeners) await listener(this.snapshot);
    return this.snapshot;
  }
}
