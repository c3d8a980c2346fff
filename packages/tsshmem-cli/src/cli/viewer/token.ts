/**
 * The viewer's access token: the first segment of every path it serves
 * (`/<token>/`, `/<token>/viewer.js`, `/<token>/ws`), so the page's relative
 * URLs carry it without a cookie (a cookie for 127.0.0.1 would also go to
 * every other local port). Anyone who can connect to the port, another user
 * of the machine included, gets 403 without it.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

const RANDOM_TOKEN_BYTES = 32;
/** Characters that stay as they are in a URL path and cannot form `.` or `..` segments. */
export const TOKEN_PATTERN = /^[A-Za-z0-9_-]{16,256}$/;

export function randomToken(): string {
  return randomBytes(RANDOM_TOKEN_BYTES).toString('base64url');
}

/**
 * The path under the token (`/<token>/x` -> `/x`, `/<token>` -> ``), or null
 * when the path does not start with the token. Without a token, the path itself.
 */
export function tokenGate(token: string | null): (pathname: string) => string | null {
  if (token === null) return (pathname) => pathname;
  // Digests have one length, so timingSafeEqual compares in constant time whatever was sent.
  const expected = digest(token);
  return (pathname) => {
    const match = /^\/([^/]*)(.*)$/s.exec(pathname);
    if (match === null || !timingSafeEqual(digest(match[1] ?? ''), expected)) return null;
    return match[2] ?? '';
  };
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}
