// Small DOM helpers. Text always goes in as text (textContent, attribute
// values), never as markup: credential, model and session names come from
// configs and clients.

const SVG = "http://www.w3.org/2000/svg";

function build(el, attrs, children) {
	for (const [k, v] of Object.entries(attrs || {})) {
		if (v == null || v === false) continue;
		if (k === "text") el.textContent = v;
		else if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
		else el.setAttribute(k, v === true ? "" : v);
	}
	for (const c of children) if (c != null) el.append(c);
	return el;
}

// h creates an HTML element.
export function h(tag, attrs, ...children) {
	return build(document.createElement(tag), attrs, children);
}

// s creates an SVG element.
export function s(tag, attrs, ...children) {
	return build(document.createElementNS(SVG, tag), attrs, children);
}

// text sets el's text, touching the DOM only when it changes.
export function text(el, value) {
	value = value == null ? "" : String(value);
	if (el.textContent !== value) el.textContent = value;
}

// attr sets (or, for null, removes) an attribute when it changes.
export function attr(el, name, value) {
	if (value == null || value === false) {
		if (el.hasAttribute(name)) el.removeAttribute(name);
		return;
	}
	value = value === true ? "" : String(value);
	if (el.getAttribute(name) !== value) el.setAttribute(name, value);
}

// cls sets el's class attribute when it changes.
export function cls(el, value) {
	attr(el, "class", value);
}

// reconcile makes parent's children one per item, in order, keyed by
// key(item): a child is created once by create(item) and then updated in
// place by update(child, item), so refreshes do not rebuild the page.
// With no items, placeholder() (if given) is shown instead, made once.
export function reconcile(parent, items, key, create, update, placeholder) {
	if (items.length === 0 && placeholder) {
		const only = parent.children.length === 1 ? parent.firstElementChild : null;
		if (!only || only.dataset.key != null) parent.replaceChildren(placeholder());
		return;
	}
	const old = new Map();
	for (const child of parent.children) if (child.dataset.key != null) old.set(child.dataset.key, child);
	let i = 0;
	for (const item of items) {
		const k = String(key(item));
		let child = old.get(k);
		if (child) old.delete(k);
		else {
			child = create(item);
			child.dataset.key = k;
		}
		update(child, item);
		if (parent.children[i] !== child) parent.insertBefore(child, parent.children[i] || null);
		i++;
	}
	for (const child of old.values()) child.remove();
	// anything without a key (a placeholder row) goes too
	while (parent.children.length > i) parent.lastElementChild.remove();
}
