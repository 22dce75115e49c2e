/**
 * @module
 * Reading S3's XML (ListObjectsV2 pages, error bodies) without a DOM parser
 * (workerd has none), and S3's key order (UTF-8 bytes).
 */
import type { StoredObject } from "./types.ts";

/** An ETag without its surrounding quotes. */
export function stripQuotes(etag: string): string {
  const t = etag.trim();
  return t.length >= 2 && t.startsWith('"') && t.endsWith('"') ? t.slice(1, -1) : t;
}

/**
 * Compares keys in UTF-8 byte order, which is S3's listing order. Plain `<` compares
 * UTF-16 code units and would put U+E000–U+FFFF after astral characters.
 */
export function compareKeys(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return utf8Rank(x) - utf8Rank(y);
  }
  return a.length - b.length;
}

function utf8Rank(unit: number): number {
  if (unit >= 0xd800 && unit <= 0xdfff) return unit + 0x2000; // surrogates encode code points > U+FFFF
  if (unit >= 0xe000) return unit - 0x800;
  return unit;
}

// ---------------------------------------------------------------------------
// Minimal XML reading. S3 responses are flat, generated documents: no DTDs, no
// nesting of an element inside itself, text escaped with entities. Markup
// cannot occur inside text, so a non-greedy element match is exact.

const NAMED_ENTITIES: Record<string, string> = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'" };

/** Decodes entity and character references (and CDATA sections) in XML text. */
export function decodeXmlText(raw: string): string {
  let out = "";
  let rest = raw;
  for (;;) {
    const start = rest.indexOf("<![CDATA[");
    if (start < 0) return out + decodeEntities(rest);
    const end = rest.indexOf("]]>", start + 9);
    if (end < 0) throw new SyntaxError("unterminated CDATA section");
    out += decodeEntities(rest.slice(0, start)) + rest.slice(start + 9, end);
    rest = rest.slice(end + 3);
  }
}

function decodeEntities(text: string): string {
  // One pass, so "&amp;lt;" becomes "&lt;" and not "<".
  return text.replace(/&([^;&\s]*);/g, (match, name: string) => {
    if (name.startsWith("#")) {
      const hex = name[1] === "x" || name[1] === "X";
      const digits = name.slice(hex ? 2 : 1);
      const code = digits !== "" && (hex ? /^[0-9a-fA-F]+$/ : /^[0-9]+$/).test(digits) ? parseInt(digits, hex ? 16 : 10) : NaN;
      if (!(code >= 0 && code <= 0x10ffff) || (code >= 0xd800 && code <= 0xdfff)) {
        throw new SyntaxError(`invalid character reference ${match}`);
      }
      return String.fromCodePoint(code);
    }
    const value = NAMED_ENTITIES[name];
    if (value === undefined) throw new SyntaxError(`unknown XML entity ${match}`);
    return value;
  });
}

/** Raw (undecoded) contents of every `<tag>` element in `xml`, in document order. */
export function xmlElements(xml: string, tag: string): string[] {
  const re = new RegExp(`<${tag}(?:\\s[^>]*)?(?:/>|>([\\s\\S]*?)</${tag}\\s*>)`, "g");
  const out: string[] = [];
  for (const m of xml.matchAll(re)) out.push(m[1] ?? "");
  return out;
}

/** Decoded text of the first `<tag>` element, or undefined when absent. */
export function xmlText(xml: string, tag: string): string | undefined {
  const raw = xmlElements(xml, tag)[0];
  return raw === undefined ? undefined : decodeXmlText(raw);
}

/** One ListObjectsV2 page. */
export interface ListPage {
  objects: StoredObject[];
  isTruncated: boolean;
  nextContinuationToken: string | undefined;
}

/** Parses a ListObjectsV2 response body; throws SyntaxError when it is not one. */
export function parseListObjectsV2(xml: string): ListPage {
  const doc = xml.replace(/<!--[\s\S]*?-->/g, "");
  if (!/<ListBucketResult[\s>]/.test(doc)) throw new SyntaxError("not a ListBucketResult document");
  const objects: StoredObject[] = [];
  for (const contents of xmlElements(doc, "Contents")) {
    const key = xmlText(contents, "Key");
    const sizeText = xmlText(contents, "Size");
    if (key === undefined || key === "") throw new SyntaxError("<Contents> without <Key>");
    if (sizeText === undefined || !/^\s*\d+\s*$/.test(sizeText)) throw new SyntaxError(`bad <Size> for key ${JSON.stringify(key)}`);
    const size = Number(sizeText);
    if (!Number.isSafeInteger(size)) throw new SyntaxError(`bad <Size> for key ${JSON.stringify(key)}`);
    const lastModified = xmlText(contents, "LastModified");
    const uploaded = lastModified === undefined ? NaN : Date.parse(lastModified.trim());
    objects.push({
      key,
      size,
      etag: stripQuotes(xmlText(contents, "ETag") ?? ""),
      uploaded: Number.isFinite(uploaded) ? uploaded : 0,
    });
  }
  const truncated = xmlText(doc, "IsTruncated")?.trim().toLowerCase() === "true";
  const token = xmlText(doc, "NextContinuationToken");
  return { objects, isTruncated: truncated, nextContinuationToken: token === "" ? undefined : token };
}

/** `Code` and `Message` of an S3 `<Error>` body, when the body is one. */
export function parseErrorBody(body: Uint8Array): { code?: string; message?: string } {
  if (body.length === 0) return {};
  const text = new TextDecoder().decode(body.length > 64 * 1024 ? body.subarray(0, 64 * 1024) : body);
  try {
    const error = xmlElements(text, "Error")[0];
    if (error === undefined) return {};
    const code = xmlText(error, "Code");
    const message = xmlText(error, "Message");
    return { ...(code ? { code } : {}), ...(message ? { message } : {}) };
  } catch {
    return {};
  }
}
