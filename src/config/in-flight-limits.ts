// `maxInFlight`'s default and bounds, in a file of their own: the config schema states them, and the
// CLI reads them before it re-executes itself, when nothing heavier may be loaded yet.

/** Backend requests in flight per process when the config names none (Bun's own default is 256). */
export const DEFAULT_MAX_IN_FLIGHT = 4096;
/** Bun refuses a larger BUN_CONFIG_MAX_HTTP_REQUESTS. */
export const MAX_IN_FLIGHT_LIMIT = 65535;
