// The words of Parley's pages in English and Korean (i18n.js picks one). `{name}` is filled in
// from values; a function gets the values and returns the text (plurals).
// One module per language: messages/en.js, messages/ko.js.

import { en } from "/messages/en.js";
import { ko } from "/messages/ko.js";

export const MESSAGES = Object.freeze({ en, ko });
