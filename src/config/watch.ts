import { watch, type FSWatcher } from "node:fs";
import { basename, dirname } from "node:path";
import type { LiveConfig } from "./live-config";

/**
 * Reloads the config when its file changes. The folder is watched, not the file, because editors
 * and `mv` replace a file (a new inode the old watch would not see); bursts of events from one
 * save are folded into one reload after `debounceMs` of quiet. Returns a function that stops it.
 */
export function watchConfigFile(configs: LiveConfig, debounceMs = 200): () => void {
  const name = basename(configs.path);
  const reload = () => void configs.reload("file changed").catch(() => {});
  let timer: Timer | undefined;
  let watcher: FSWatcher | undefined = watch(dirname(configs.path), (_event, changed) => {
    // A Kubernetes ConfigMap volume swaps its `..data` link to a new folder; the file's own name never changes.
    if (changed !== null && changed !== name && changed !== "..data") return;
    if (timer) timer.refresh();
    else timer = setTimeout(() => ((timer = undefined), reload()), debounceMs);
  });
  watcher.on("error", () => {}); // the folder vanished: keep serving the running config
  return () => {
    clearTimeout(timer);
    watcher?.close();
    watcher = undefined;
  };
}
