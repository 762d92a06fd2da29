/** An error's message on one line (a server's may span several), for a log line or a client's error. */
export const messageOf = (error: unknown) => ((error as Error)?.message ?? String(error)).replace(/\s+/g, " ");
