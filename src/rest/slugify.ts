/** Django's `slugify`: accents dropped, anything but letters, digits, `_`, `-` and spaces removed, spaces and dashes to one dash, lowercase. */
export const slugify = (v: string): string =>
  v
    .normalize('NFKD')
    .replace(/[^\x00-\x7f]/g, '')
    .replace(/[^\w\s-]/g, '')
    .trim()
    .toLowerCase()
    .replace(/[-\s]+/g, '-')
    .replace(/^[-_]+|[-_]+$/g, '');
