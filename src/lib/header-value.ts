// Names the proxy puts into response headers (model ids, target names) come from the config and from
// backends' model lists: anything outside printable ASCII would make the response unbuildable.

const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;

/** `value` as a header value: as it is when printable ASCII, else percent-encoded (UTF-8), so it still names the same thing. */
export const headerValue = (value: string): string => (PRINTABLE_ASCII.test(value) ? value : encodeURIComponent(value));
