/**
 * A small reader for the XML that Pacemaker's tools print with --output-as=xml: elements,
 * attributes, text, the five predefined entities and numeric character references. No DTDs,
 * no namespaces: enough for machine output, never for documents from elsewhere.
 */

export interface XmlElement {
  readonly name: string;
  readonly attrs: Readonly<Record<string, string>>;
  readonly children: XmlElement[];
  text: string;
}

const ENTITIES: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };

export function decodeEntities(s: string): string {
  return s.replace(/&(#x[0-9a-fA-F]+|#\d+|lt|gt|amp|quot|apos);/g, (_, e: string) =>
    e.startsWith('#x') ? String.fromCodePoint(parseInt(e.slice(2), 16)) : e.startsWith('#') ? String.fromCodePoint(Number(e.slice(1))) : ENTITIES[e]!,
  );
}

export class XmlError extends Error {}

export function parseXml(text: string): XmlElement {
  const root: XmlElement = { name: '#document', attrs: {}, children: [], text: '' };
  const stack: XmlElement[] = [root];
  const tag = /<(\/?)([A-Za-z_][\w.:-]*)((?:\s+[\w.:-]+\s*=\s*(?:"[^"]*"|'[^']*'))*)\s*(\/?)>|<\?[\s\S]*?\?>|<!--[\s\S]*?-->|<!DOCTYPE[^>]*>/g;
  let last = 0;
  for (let m = tag.exec(text); m; m = tag.exec(text)) {
    const top = stack[stack.length - 1]!;
    top.text += decodeEntities(text.slice(last, m.index));
    last = tag.lastIndex;
    if (!m[2]) continue; // declaration, comment, doctype
    const [, closing, name, attrText, selfClosing] = m;
    if (closing) {
      if (top.name !== name || stack.length === 1) throw new XmlError(`unexpected </${name}>`);
      stack.pop();
      continue;
    }
    const attrs: Record<string, string> = {};
    for (const a of (attrText ?? '').matchAll(/([\w.:-]+)\s*=\s*(?:"([^"]*)"|'([^']*)')/g)) attrs[a[1]!] = decodeEntities(a[2] ?? a[3] ?? '');
    const el: XmlElement = { name: name!, attrs, children: [], text: '' };
    top.children.push(el);
    if (!selfClosing) stack.push(el);
  }
  if (stack.length !== 1) throw new XmlError(`unclosed <${stack[stack.length - 1]!.name}>`);
  if (text.slice(last).trim() !== '') throw new XmlError('text after the last element');
  const [doc] = root.children;
  if (!doc || root.children.length !== 1) throw new XmlError('not exactly one root element');
  return doc;
}

/** Every descendant element named `name`, in document order. */
export function findAll(el: XmlElement, name: string): XmlElement[] {
  const out: XmlElement[] = [];
  const walk = (e: XmlElement) => {
    for (const c of e.children) {
      if (c.name === name) out.push(c);
      walk(c);
    }
  };
  walk(el);
  return out;
}

export function find(el: XmlElement, name: string): XmlElement | undefined {
  return findAll(el, name)[0];
}

// Line ends and tabs as references: written as they are, a parser reads them back as spaces.
const escapeAttr = (s: string) =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/\n/g, '&#10;').replace(/\r/g, '&#13;').replace(/\t/g, '&#9;');

/**
 * An element as XML text, two spaces per level: what parseXml read, without its comments and its
 * whitespace between elements (Pacemaker's tools ignore both).
 */
export function renderXml(el: XmlElement, indent = ''): string {
  const attrs = Object.entries(el.attrs).map(([k, v]) => ` ${k}="${escapeAttr(v)}"`).join('');
  const text = el.text.trim() ? escapeAttr(el.text) : '';
  if (el.children.length === 0) return text ? `${indent}<${el.name}${attrs}>${text}</${el.name}>` : `${indent}<${el.name}${attrs}/>`;
  const inner = el.children.map((c) => renderXml(c, `${indent}  `)).join('\n');
  return `${indent}<${el.name}${attrs}>${text}\n${inner}\n${indent}</${el.name}>`;
}
