// A small helper to build DOM elements.

/** An element with properties (className, textContent, type, ...) and children (nodes or strings). */
export function element(tag, properties = {}, children = []) {
  const node = Object.assign(document.createElement(tag), properties);
  node.append(...children);
  return node;
}
