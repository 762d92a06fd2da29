// The plain headers Open WebUI names its user and chat with, under its default names or the ones
// an operator gave them on its side (FORWARD_USER_INFO_HEADER_USER_ID, …), and which of them may
// reach a backend.

/** Open WebUI's plain user and session headers, lowercase. */
export interface OpenWebUIHeaderNames {
  readonly id: string;
  readonly email: string;
  /** URL-quoted by Open WebUI. */
  readonly name: string;
  readonly role: string;
  readonly chatId: string;
  readonly messageId: string;
}

/** Open WebUI's defaults. */
export const OPENWEBUI_HEADERS: OpenWebUIHeaderNames = {
  id: "x-openwebui-user-id",
  email: "x-openwebui-user-email",
  name: "x-openwebui-user-name",
  role: "x-openwebui-user-role",
  chatId: "x-openwebui-chat-id",
  messageId: "x-openwebui-message-id",
};

/** Which of Open WebUI's headers stay behind when a request goes to a backend. */
export interface UserInfoForwarding {
  /** Every header whose name starts with this (null: none by prefix). */
  readonly withheldPrefix: string | null;
  /** And these (lowercase): Open WebUI's headers renamed on its side. */
  readonly withheld: ReadonlySet<string>;
}

const OPENWEBUI_PREFIX = "x-openwebui-";
const USER_PREFIX = "x-openwebui-user-";

/**
 * What stays behind: all of Open WebUI's headers (personal data: the default), none of them
 * (`forward`), or, when its user comes `signed`, the plain user ones (Open WebUI sends none then,
 * so any that arrive are forged). Names under Open WebUI's prefix go by the prefix, any others by name.
 */
export function userInfoForwarding(forward: boolean, signed: boolean, names: OpenWebUIHeaderNames): UserInfoForwarding {
  if (forward && !signed) return { withheldPrefix: null, withheld: new Set() };
  const prefix = forward ? USER_PREFIX : OPENWEBUI_PREFIX;
  const ours = forward ? [names.id, names.email, names.name, names.role] : Object.values(names);
  return { withheldPrefix: prefix, withheld: new Set(ours.filter((name) => !name.startsWith(prefix))) };
}
