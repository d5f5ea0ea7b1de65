/**
 * How long a typed name may be, in characters (code points, after trimming and NFC): the one place
 * for the zod schemas, the server's checks and the forms' hints. Plain constants, safe in the browser.
 */
export const CLIENT_NAME_MAX = 64;
export const KEY_NAME_MAX = 64;

/**
 * The `maxLength` of a name field. The browser counts UTF-16 code units, not characters, and keeps
 * the spaces the server trims: twice the limit lets every valid name in, and the server explains a
 * name that is too long rather than the field cutting it off silently.
 */
export const nameInputMaxLength = (max: number) => 2 * max;
