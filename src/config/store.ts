import { loadConfig } from "./load";
import type { ProxyConfig } from "./proxy-config";

/**
 * Holds the running config. `reload` validates the whole new file before one assignment swaps it
 * in, so a failed reload leaves the running config untouched and no request sees half of one.
 */
export class ConfigStore {
  constructor(
    private snapshot: ProxyConfig,
    readonly path: string = snapshot.file,
  ) {}

  get current(): ProxyConfig {
    return this.snapshot;
  }

  async reload(): Promise<ProxyConfig> {
    const next = await loadConfig(this.path);
    this.snapshot = next;
    return next;
  }
}
