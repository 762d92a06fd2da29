// Image, audio and file parts of OpenAI messages → Gemini's inlineData/fileData parts. A data: URL
// travels inline; an https URL is left for Gemini to fetch (fileData), which needs its media type
// named up front: it is guessed from the file extension, and a URL that names none is refused here
// with a clear 400 rather than by Gemini with an opaque one.
import { invalidRequest } from "../../model/errors";
import type { Part } from "./types";

/** Image types Gemini reads (its image-understanding docs); GIF and others are refused. */
const IMAGE_TYPES = new Set(["image/png", "image/jpeg", "image/webp", "image/heic", "image/heif"]);

const BY_EXTENSION: Record<string, string> = {
  png: "image/png",
  jpg: "image/jpeg",
  jpeg: "image/jpeg",
  webp: "image/webp",
  heic: "image/heic",
  heif: "image/heif",
  gif: "image/gif",
  pdf: "application/pdf",
};

/** The media type a file extension names, among the table's own keys only (`.constructor` names none). */
const typeOfExtension = (extension: string | undefined) => (extension && Object.hasOwn(BY_EXTENSION, extension) ? BY_EXTENSION[extension] : undefined);

const DATA_URL = /^data:([\w.+-]+\/[\w.+-]+)((?:;[^;,]*)*);base64,([\s\S]*)$/i;

/** Names clients use for a type under another name: `image/jpg` is no registered type, but browsers and SDKs send it. */
const MEDIA_ALIASES: Readonly<Record<string, string>> = { "image/jpg": "image/jpeg" };

/** The media type and base64 payload of a `data:<type>;base64,<data>` URL. */
function parseDataUrl(url: string, param: string): { mimeType: string; data: string } {
  const match = DATA_URL.exec(url);
  if (!match) throw invalidRequest(`${param}: a data: URL must name a media type and be base64 (data:<type>;base64,<data>)`, param);
  const named = match[1]!.toLowerCase();
  return { mimeType: MEDIA_ALIASES[named] ?? named, data: match[3]!.replace(/\s+/g, "") };
}

function checkImageType(mimeType: string, param: string): void {
  if (mimeType.startsWith("image/") && !IMAGE_TYPES.has(mimeType)) {
    throw invalidRequest(`${param}: Gemini does not accept ${mimeType} images (only ${[...IMAGE_TYPES].join(", ")})`, param);
  }
}

/** An `image_url` part: data: URLs inline, https URLs as fileData with a media type from the extension. */
export function imagePart(url: unknown, param: string): Part {
  if (typeof url !== "string" || url === "") throw invalidRequest(`${param} must be a data: or https: URL`, param);
  if (url.startsWith("data:")) {
    const inline = parseDataUrl(url, param);
    checkImageType(inline.mimeType, param);
    return { inlineData: inline };
  }
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw invalidRequest(`${param} must be a data: or https: URL`, param);
  }
  if (parsed.protocol !== "https:") throw invalidRequest(`${param}: Gemini fetches only https: URLs; send the image as a data: URL`, param);
  const extension = /\.([a-z0-9]+)$/i.exec(parsed.pathname)?.[1]?.toLowerCase();
  const mimeType = typeOfExtension(extension);
  if (!mimeType) {
    throw invalidRequest(
      `${param}: the media type of this URL cannot be told (Gemini needs it); use a URL ending in .png, .jpg, .webp, .heic or .pdf, or send a data: URL`,
      param,
    );
  }
  checkImageType(mimeType, param);
  return { fileData: { mimeType, fileUri: url } };
}

/** An `input_audio` part (`{data, format}`, base64). */
export function audioPart(audio: unknown, param: string): Part {
  const { data, format } = (audio ?? {}) as { data?: unknown; format?: unknown };
  if (typeof data !== "string" || typeof format !== "string") throw invalidRequest(`${param} needs base64 data and a format`, param);
  return { inlineData: { mimeType: `audio/${format.toLowerCase()}`, data } };
}

/**
 * A `file` part: only inline `file_data` — a data: URL, or bare base64 with a `filename` whose
 * extension names the type. OpenAI file ids mean nothing to Gemini.
 */
export function filePart(file: unknown, param: string): Part {
  const { file_data: fileData, filename } = (file ?? {}) as { file_data?: unknown; filename?: unknown };
  if (typeof fileData !== "string") throw invalidRequest(`${param}: only inline file_data can be sent to Gemini, not file_id`, param);
  if (fileData.startsWith("data:")) return { inlineData: parseDataUrl(fileData, param) };
  const extension = typeof filename === "string" ? /\.([a-z0-9]+)$/i.exec(filename)?.[1]?.toLowerCase() : undefined;
  const mimeType = typeOfExtension(extension);
  if (!mimeType) throw invalidRequest(`${param}: file_data must be a data: URL (data:<type>;base64,<data>)`, param);
  return { inlineData: { mimeType, data: fileData } };
}
