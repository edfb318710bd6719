/**
 * Text the generated-input suites mix into every field: blanks, numbers that are not, 3,000 characters, U+0000,
 * prototype names and a script URL. Each suite adds values its endpoints know.
 */
export const HOSTILE_TEXT: readonly string[] = [
  '',
  ' ',
  'null',
  '-1',
  '1e309',
  'x'.repeat(3000),
  '\u0000',
  'a\u0000b',
  '__proto__',
  'toString',
  'constructor',
  'javascript:alert(1)',
];
