// The credentials table: one row per credential, updated in place.

import { h, s, text, attr, cls, reconcile } from "./dom.js";
import { count } from "./format.js";

const time = (v) => (v ? Date.parse(v) : NaN);
const blockedStates = new Set(["cooldown", "blocked", "probing", "disabled"]);

// why tells why a state blocks: the quota the upstream named, else the
// last error.
function why(st) {
	if (!st) return "";
	if (st.quota && st.quota.exceeded && st.quota.reason) return st.quota.reason.replaceAll("_", " ");
	const e = st.last_error;
	if (e && e.status) return `${e.status} ${e.message || ""}`.trim();
	if (e && e.message) return e.message;
	return st.reason || "";
}

// until is when a state lets requests through again: a probing state's
// quota recovers at next_recover_at.
function until(st) {
	if (!st) return NaN;
	if (st.status === "probing") return time(st.quota && st.quota.next_recover_at);
	return time(st.next_retry_after);
}

// describe turns a credential as the API lists it into what its Status
// cell shows: the status (the API's, with a revoked login and a skipped
// file told apart), until when, and why.
export function describe(c) {
	const w = c.whole;
	if (w && w.status === "disabled" && !c.disabled) {
		return { status: "revoked", until: NaN, reason: w.last_error && w.last_error.message ? w.last_error.message : "login refused" };
	}
	switch (c.status) {
		case "disabled":
			return { status: "disabled", until: NaN, reason: c.override === "disabled" ? "by an operator" : c.source ? "in its auth file" : "in the config" };
		case "cooldown":
		case "blocked":
		case "probing":
			return { status: c.status, until: until(w), reason: why(w) };
		case "degraded": {
			const out = Object.values(c.models || {}).filter((m) => blockedStates.has(m.status));
			const soonest = Math.min(...out.map(until).filter((t) => !Number.isNaN(t)));
			const n = out.length;
			return { status: "degraded", until: Number.isFinite(soonest) ? soonest : NaN, reason: `${n} model${n === 1 ? "" : "s"} out` };
		}
		case "available":
			return { status: "available", until: NaN, reason: "" };
	}
	// a status this page does not know yet (a skipped auth file, say)
	return { status: c.status || "unknown", until: NaN, reason: c.reason || c.skip_reason || "" };
}

function quotaClass(win) {
	if (win.status === "rejected" || win.utilization >= 1) return "fill full";
	if (win.utilization >= 0.8) return "fill high";
	return "fill";
}

// quotaWindows draws the credential's quota windows as bars, when the API
// reports them; otherwise the cell stays empty.
function quotaWindows(cell, c) {
	const windows = (c.quota && Array.isArray(c.quota.windows) && c.quota.windows) || [];
	reconcile(cell, windows, (w) => w.window, (w) => {
		const fill = s("rect", { class: "fill", height: 6, rx: 3 });
		const tip = s("title");
		const row = h("div", { class: "w" },
			h("span", { class: "label" }),
			s("svg", { viewBox: "0 0 100 6", preserveAspectRatio: "none" }, s("rect", { class: "track", width: 100, height: 6, rx: 3 }), fill, tip),
			h("span", { class: "pct" }));
		row.fill = fill;
		row.tip = tip;
		return row;
	}, (row, w) => {
		const u = Math.max(0, Math.min(1, Number(w.utilization) || 0));
		text(row.firstChild, w.window);
		attr(row.fill, "width", (u * 100).toFixed(1));
		cls(row.fill, quotaClass(w));
		text(row.lastChild, Math.round(u * 100) + "%");
		const resets = time(w.resets_at);
		text(row.tip, `${w.window}: ${Math.round(u * 100)}% used${w.status ? ", " + w.status : ""}${Number.isNaN(resets) ? "" : ", resets " + new Date(resets).toLocaleString()}`);
	});
}

// models lists the per-model states, the blocked ones first.
function models(cell, c) {
	const order = { cooldown: 0, blocked: 0, probing: 1, disabled: 2, available: 3 };
	const list = Object.entries(c.models || {})
		.map(([name, st]) => ({ name, st }))
		.sort((a, b) => (order[a.st.status] ?? 2) - (order[b.st.status] ?? 2) || a.name.localeCompare(b.name));
	reconcile(cell, list, (m) => m.name, () => {
		const row = h("div", {}, h("span", { class: "dot" }), h("span", { class: "model" }), h("span", { class: "countdown" }));
		return row;
	}, (row, m) => {
		cls(row, "m-" + m.st.status);
		const [, name, cd] = row.children;
		text(name, m.name);
		const t = m.st.status === "available" ? NaN : until(m.st);
		attr(cd, "data-until", Number.isNaN(t) ? null : t);
		if (Number.isNaN(t)) text(cd, m.st.status === "available" ? "" : m.st.status);
		attr(row, "title", `${m.name}: ${m.st.status}${m.st.status === "available" ? "" : " · " + why(m.st)}`);
	}, () => h("span", { class: "faint", text: "—" }));
}

// Credentials renders the table and calls act(action, credential) for the
// buttons.
export class Credentials {
	constructor(table, act) {
		this.body = table.tBodies[0];
		this.act = act;
	}

	// render shows list (GET credentials) with the bound sessions per
	// credential and the chart colours by name.
	render(list, sessions, colours) {
		reconcile(this.body, list, (c) => c.name, (c) => this.row(c), (tr, c) => this.update(tr, c, sessions[c.name], colours),
			() => h("tr", {}, h("td", { class: "empty", colspan: 12, text: "This pool has no credentials." })));
	}

	row(c) {
		const td = (attrs, ...kids) => h("td", attrs, ...kids);
		const tr = h("tr", {});
		tr.swatch = s("rect", { width: 8, height: 8, rx: 2 });
		tr.nameText = h("span");
		tr.sub = h("div", { class: "sub" });
		tr.tier = h("div");
		tr.group = h("div", { class: "sub" });
		tr.chip = h("span", { class: "chip" });
		tr.countdown = h("span", { class: "countdown" });
		tr.reason = h("div", { class: "sub" });
		tr.models = h("div", { class: "models" });
		tr.quota = h("div", { class: "quota" });
		tr.nums = Array.from({ length: 6 }, () => td({ class: "num" }));
		tr.toggle = h("button", { class: "btn", type: "button", onclick: () => this.act(tr.disabled ? "enable" : "disable", tr.cred) });
		tr.reset = h("button", { class: "btn", type: "button", text: "Reset", onclick: () => this.act("reset", tr.cred) });
		tr.append(
			td({}, h("div", { class: "name" }, s("svg", { width: 8, height: 8, "aria-hidden": "true" }, tr.swatch), tr.nameText), tr.sub),
			td({}, tr.tier, tr.group),
			td({ class: "status" }, h("div", { class: "status-line" }, tr.chip, tr.countdown), tr.reason),
			td({}, tr.models),
			td({}, tr.quota),
			...tr.nums,
			td({ class: "actions" }, tr.toggle, tr.reset),
		);
		return tr;
	}

	update(tr, c, sessions, colours) {
		tr.cred = c;
		tr.disabled = c.disabled;
		attr(tr.swatch, "fill", colours.get(c.name));
		text(tr.nameText, c.name);
		text(tr.sub, [c.provider, c.email || c.fingerprint].filter(Boolean).join(" · "));
		text(tr.tier, "P" + (c.priority || 0));
		text(tr.group, c.group || "");
		const d = describe(c);
		cls(tr.chip, "chip st-" + d.status);
		text(tr.chip, d.status);
		attr(tr.countdown, "data-until", Number.isNaN(d.until) ? null : d.until);
		if (Number.isNaN(d.until)) text(tr.countdown, "");
		text(tr.reason, d.reason);
		attr(tr, "data-status", d.status);
		models(tr.models, c);
		quotaWindows(tr.quota, c);
		const u = c.usage || { requests: 0, errors: 0, tokens: {} };
		const t = u.tokens || {};
		const values = [u.requests, u.errors, t.input, t.output, t.cache_read, sessions || 0];
		tr.nums.forEach((cell, i) => text(cell, count(values[i])));
		cls(tr.nums[1], u.errors > 0 ? "num bad" : "num faint");
		text(tr.toggle, c.disabled ? "Enable" : "Disable");
	}
}
