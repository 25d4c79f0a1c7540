// The members and session bindings tables.

import { h, s, text, attr, cls, reconcile } from "./dom.js";
import { count } from "./format.js";

// sparkline draws values (oldest first) into a small SVG path.
function sparkPath(values, w, ht) {
	const peak = Math.max(1, ...values);
	const step = values.length > 1 ? w / (values.length - 1) : w;
	const pts = values.map((v, i) => `${(i * step).toFixed(1)},${(ht - 1 - (v / peak) * (ht - 2)).toFixed(1)}`);
	return { line: "M" + pts.join("L"), area: `M0,${ht}L${pts.join("L")}L${w},${ht}Z` };
}

export class Members {
	constructor(table) {
		this.body = table.tBodies[0];
	}

	// render shows the members' totals (GET usage) and their requests per
	// minute (perMinute: name → values, oldest first).
	render(members, perMinute) {
		const names = Object.keys(members).sort((a, b) => a.localeCompare(b));
		reconcile(this.body, names, (n) => n, () => {
			const tr = h("tr", {});
			tr.name = h("span");
			tr.nums = Array.from({ length: 5 }, () => h("td", { class: "num" }));
			tr.area = s("path", { class: "area" });
			tr.line = s("path");
			tr.append(h("td", {}, h("div", { class: "name" }, tr.name)), ...tr.nums,
				h("td", {}, s("svg", { class: "spark", viewBox: "0 0 90 18", preserveAspectRatio: "none" }, tr.area, tr.line)));
			return tr;
		}, (tr, name) => {
			const m = members[name];
			const t = m.tokens || {};
			text(tr.name, name);
			[m.requests, m.errors, t.input, t.output, t.cache_read].forEach((v, i) => text(tr.nums[i], count(v)));
			cls(tr.nums[1], m.errors > 0 ? "num bad" : "num faint");
			const p = sparkPath(perMinute.get(name) || [0], 90, 18);
			attr(tr.line, "d", p.line);
			attr(tr.area, "d", p.area);
		}, () => h("tr", {}, h("td", { class: "empty", colspan: 7, text: "No requests yet." })));
	}
}

// splitKey reads a binding key, <family>::<member>::<session>::<model>.
export function splitKey(key) {
	const parts = key.split("::");
	if (parts.length < 4) return { session: key, member: "", model: "" };
	return { member: parts[1], session: parts.slice(2, -1).join("::"), model: parts[parts.length - 1] };
}

export class Sessions {
	constructor(table, note, act) {
		this.body = table.tBodies[0];
		this.note = note;
		this.act = act;
	}

	// render shows a GET sessions answer.
	render(answer) {
		const list = answer.bindings || [];
		text(this.note, answer.count === 0 ? "" : answer.truncated ? `${count(answer.count)} bound · first ${count(list.length)} shown` : `${count(answer.count)} bound`);
		reconcile(this.body, list, (b) => b.key, () => {
			const tr = h("tr", {});
			tr.session = h("td", { class: "key" });
			tr.member = h("td");
			tr.model = h("td");
			tr.cred = h("td");
			tr.expires = h("span", { class: "countdown" });
			tr.append(tr.session, tr.member, tr.model, tr.cred, h("td", { class: "num" }, tr.expires),
				h("td", { class: "actions" }, h("button", { class: "btn", type: "button", text: "Drop", onclick: () => this.act("drop", tr.binding) })));
			return tr;
		}, (tr, b) => {
			tr.binding = b;
			const k = splitKey(b.key);
			text(tr.session, k.session);
			attr(tr.session, "title", b.key);
			text(tr.member, k.member);
			text(tr.model, k.model);
			text(tr.cred, b.credential);
			attr(tr.expires, "data-until", Date.parse(b.expires));
		}, () => h("tr", {}, h("td", { class: "empty", colspan: 6, text: "No session is bound." })));
	}
}
