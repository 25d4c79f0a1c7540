// The dashboard: polls the management API every few seconds and updates
// the page in place; asks before every change and shows the API's answer
// when it refuses one.

import { API } from "./api.js";
import { h, s, text, attr, cls, reconcile } from "./dom.js";
import { count, duration, clock, ttl, colour } from "./format.js";
import { Chart } from "./chart.js";
import { Credentials } from "./credentials.js";
import { Members, Sessions } from "./tables.js";

const $ = (id) => document.getElementById(id);
const api = new API(location);
const params = new URLSearchParams(location.search);
// ?refresh=<seconds> sets the polling interval (default 3 s)
const refreshMs = Math.max(1, Number(params.get("refresh")) || 3) * 1000;
const STRATEGIES = ["round-robin", "fill-first", "weighted-round-robin"];
const MINUTES = 60;

const charts = {
	requests: new Chart($("chart-requests"), "requests", "No requests in the last hour"),
	tokens: new Chart($("chart-tokens"), "tokens", "No tokens in the last hour"),
};
const credentials = new Credentials($("credentials"), act);
const members = new Members($("members"));
const sessions = new Sessions($("sessions"), $("sessions-note"), act);

let verified = false; // the key (or the admin mount) was accepted once
let poolsAsked = false;
let busy = false;
let again = false; // a refresh was asked for while one ran
let timer = 0;
let lastOk = 0;
// what the last refresh saw
let current = { strategy: "", bound: {} };

// --- polling -------------------------------------------------------------

function schedule(ms = refreshMs) {
	clearTimeout(timer);
	timer = setTimeout(refresh, ms);
}

async function refresh() {
	if (busy) {
		// an action's outcome must not wait for the next poll
		again = true;
		return;
	}
	if (document.hidden) return schedule();
	busy = true;
	try {
		// the admin mount, which needs no key, lists its pools (several
		// need a choice before anything else works)
		if (!poolsAsked && !api.key) await choosePool();
		// one call first until a key is known to be good: five wrong ones
		// at once would lock this address out
		if (!verified) {
			await api.get("strategy");
			verified = true;
		}
		const [list, usage, timeline, bound, strategy] = await Promise.all([
			api.get("credentials"),
			api.get("usage"),
			api.get(`usage/timeline?minutes=${MINUTES}`),
			api.get("sessions?limit=200"),
			api.get("strategy"),
		]);
		render(list.credentials || [], usage, timeline, bound, strategy);
		lastOk = api.now();
		live(null);
		show("app");
		schedule();
	} catch (e) {
		failed(e);
	} finally {
		busy = false;
		if (again) {
			again = false;
			schedule(0);
		}
	}
}

function failed(e) {
	if (e.status === 401 || e.code === "locked_out") {
		const had = api.key;
		api.key = "";
		verified = false;
		clearTimeout(timer);
		login(e.code === "locked_out" ? e.message : had ? "That key was refused." : "");
		return;
	}
	live(e);
	if (!lastOk) banner(e.toString());
	schedule();
}

// choosePool fills the pool picker of the admin mount (the site mount has
// one pool, and no pools endpoint) and picks one when the page names none.
async function choosePool() {
	let pools = [];
	try {
		pools = (await api.get("pools")).pools || [];
	} catch (e) {
		// the site mount: it answers 401 until the key is typed in, and
		// has no pools to choose from
		poolsAsked = e.status !== 0;
		return;
	}
	poolsAsked = true;
	if (!api.pool && pools.length > 1) {
		api.pool = pools.includes("default") ? "default" : pools[0];
		keepPoolInURL();
	}
	const sel = $("pool");
	sel.replaceChildren(...pools.map((p) => h("option", { value: p, text: p })));
	sel.value = api.pool || pools[0] || "";
	$("pool-group").hidden = pools.length < 2;
}

function keepPoolInURL() {
	const u = new URL(location.href);
	u.searchParams.set("pool", api.pool);
	history.replaceState(null, "", u);
}

// --- rendering -----------------------------------------------------------

function render(list, usage, timeline, bound, strategy) {
	current = { strategy: strategy.strategy, bound: bound.by_credential || {} };
	const colours = new Map(list.map((c, i) => [c.name, colour(i)]));
	tiles(list, usage, bound);
	settings(strategy);
	chart(timeline, list, colours);
	credentials.render(list, bound.by_credential || {}, colours);
	members.render(usage.members || {}, perMinute(timeline, timeline.members || {}, (b) => b.requests));
	sessions.render(bound);
	text($("cred-note"), `${list.length} in pool${api.pool ? " " + api.pool : ""}`);
	tick();
}

const serving = new Set(["available", "degraded", "probing"]);

function tiles(list, usage, bound) {
	const t = (usage.total && usage.total.tokens) || {};
	const up = list.filter((c) => serving.has(c.status)).length;
	const items = [
		["Serving", count(up), ` / ${count(list.length)}`],
		["Requests", count(usage.total ? usage.total.requests : 0), ""],
		["Errors", count(usage.total ? usage.total.errors : 0), ""],
		["Input tokens", count(t.input), ""],
		["Output tokens", count(t.output), ""],
		["Cache read", count(t.cache_read), ""],
		["Sessions bound", count(bound.count || 0), ""],
	];
	reconcile($("tiles"), items, (i) => i[0], () => {
		const tile = h("div", { class: "tile" }, h("div", { class: "label" }), h("div", { class: "value" }, h("span"), h("small")));
		return tile;
	}, (tile, [label, value, suffix]) => {
		text(tile.firstChild, label);
		text(tile.lastChild.firstChild, value);
		text(tile.lastChild.lastChild, suffix);
	});
}

function settings(st) {
	const sel = $("strategy");
	const names = STRATEGIES.includes(st.strategy) ? STRATEGIES : [...STRATEGIES, st.strategy];
	if (sel.options.length !== names.length) sel.replaceChildren(...names.map((n) => h("option", { value: n, text: n })));
	if (!$("confirm").open && sel.value !== st.strategy) sel.value = st.strategy;
	text($("configured"), st.configured && st.configured !== st.strategy ? `(configured: ${st.configured})` : "");
	$("strategy-group").hidden = false;
	const a = st.affinity;
	if (a) {
		text($("affinity"), a.enabled ? `on · ttl ${ttl(a.ttl_seconds)} · subagents ${a.subagents}` : "off");
		$("affinity-group").hidden = false;
	}
}

// perMinute turns a timeline's buckets into MINUTES values per name,
// oldest first.
function perMinute(timeline, byName, value) {
	const from = Date.parse(timeline.from);
	const step = (timeline.bucket_seconds || 60) * 1000;
	const out = new Map();
	for (const [name, buckets] of Object.entries(byName)) {
		const values = new Array(MINUTES).fill(0);
		for (const b of buckets) {
			const i = Math.round((Date.parse(b.start) - from) / step);
			if (i >= 0 && i < MINUTES) values[i] += value(b);
		}
		out.set(name, values);
	}
	return out;
}

function chart(timeline, list, colours) {
	const byCred = timeline.credentials || {};
	// credentials in list order, then any that left the pool
	const names = [...list.map((c) => c.name), ...Object.keys(byCred).filter((n) => !colours.has(n)).sort()];
	const requests = perMinute(timeline, byCred, (b) => b.requests);
	const tokens = perMinute(timeline, byCred, (b) => (b.tokens ? b.tokens.input + b.tokens.output : 0));
	const from = Date.parse(timeline.from);
	const slots = (series) => Array.from({ length: MINUTES }, (_, i) => ({
		start: new Date(from + i * 60000),
		parts: names.map((n) => ({ name: n, colour: colours.get(n) || "#98a2b3", value: (series.get(n) || [])[i] || 0 })),
	}));
	charts.requests.draw(slots(requests));
	charts.tokens.draw(slots(tokens));
	reconcile($("legend"), names.filter((n) => colours.has(n) || requests.has(n)), (n) => n, () => {
		const sw = s("rect", { width: 9, height: 9, rx: 2 });
		const item = h("span", {}, s("svg", { width: 9, height: 9, "aria-hidden": "true" }, sw), h("span"));
		item.sw = sw;
		return item;
	}, (item, n) => {
		attr(item.sw, "fill", colours.get(n) || "#98a2b3");
		text(item.lastChild, n);
	});
}

// tick moves every countdown on the page (elements with data-until, in the
// gateway's ms) and the freshness note; a block that just ended asks for a
// refresh so its row shows the credential back.
let ended = false;
function tick() {
	const now = api.now();
	for (const el of document.querySelectorAll("[data-until]")) {
		const left = Number(el.dataset.until) - now;
		text(el, left > 0 ? duration(left) : "now");
		if (left <= 0 && left > -2000) ended = true;
	}
	if (ended && !busy) {
		ended = false;
		schedule(700);
	}
}
setInterval(tick, 1000);

function live(err) {
	const el = $("live");
	if (!err) {
		cls(el, "live ok");
		text($("updated"), "live · " + clock(new Date(lastOk)));
		attr(el, "title", `refreshed every ${refreshMs / 1000}s`);
		return;
	}
	cls(el, "live stale");
	text($("updated"), lastOk ? "stale since " + clock(new Date(lastOk)) : "not connected");
	attr(el, "title", err.toString());
}

// --- page states ---------------------------------------------------------

function show(which) {
	$("login").hidden = which !== "login";
	$("app").hidden = which !== "app";
	$("signout").hidden = !api.key;
}

function login(message) {
	show("login");
	$("live").hidden = true;
	const err = $("login-error");
	err.hidden = !message;
	text(err, message || "");
	$("key").focus();
}

$("login").addEventListener("submit", (ev) => {
	ev.preventDefault();
	const key = $("key").value.trim();
	if (!key) return;
	api.key = key;
	$("key").value = "";
	$("live").hidden = false;
	verified = false;
	refresh();
});

$("signout").addEventListener("click", () => {
	api.key = "";
	verified = false;
	clearTimeout(timer);
	login("");
});

function banner(message) {
	text($("banner-text"), message);
	$("banner").hidden = !message;
}
$("banner-close").addEventListener("click", () => banner(""));

document.addEventListener("visibilitychange", () => {
	if (!document.hidden && verified) refresh();
});

$("pool").addEventListener("change", (ev) => {
	api.pool = ev.target.value;
	keepPoolInURL();
	refresh();
});

// --- actions -------------------------------------------------------------

// confirm asks in the page's dialog and resolves to whether the operator
// went ahead.
function confirm({ title, body, ok, danger }) {
	const d = $("confirm");
	text($("confirm-title"), title);
	text($("confirm-text"), body);
	text($("confirm-ok"), ok);
	cls($("confirm-ok"), danger ? "btn danger" : "btn primary");
	return new Promise((resolve) => {
		const done = (yes) => {
			$("confirm-ok").onclick = $("confirm-cancel").onclick = d.oncancel = null;
			d.close();
			resolve(yes);
		};
		$("confirm-ok").onclick = () => done(true);
		$("confirm-cancel").onclick = () => done(false);
		d.oncancel = (ev) => {
			ev.preventDefault();
			done(false);
		};
		d.showModal();
		$("confirm-cancel").focus();
	});
}

const enc = encodeURIComponent;

// What each action asks and calls.
const actions = {
	disable: (c, bound) => ({
		title: `Disable ${c.name}?`,
		body: `It leaves the rotation of every handler of this pool until it is enabled again (config reloads keep this)${bound ? `, and its ${bound} bound session${bound === 1 ? "" : "s"} move to other credentials` : ""}.`,
		ok: "Disable", danger: true,
		call: () => api.call("POST", `credentials/${enc(c.name)}/disable`),
		failure: `disable ${c.name}`,
	}),
	enable: (c) => ({
		title: `Enable ${c.name}?`,
		body: "It joins the rotation again, with whatever state the upstream last left it in.",
		ok: "Enable",
		call: () => api.call("POST", `credentials/${enc(c.name)}/enable`),
		failure: `enable ${c.name}`,
	}),
	reset: (c) => ({
		title: `Reset ${c.name}?`,
		body: "Lifts its cooldowns, blocks and backoff for every model, as if the upstream had said nothing. A limit still in force comes back with the next answer.",
		ok: "Reset",
		call: () => api.call("POST", `credentials/${enc(c.name)}/reset`),
		failure: `reset ${c.name}`,
	}),
	drop: (b) => {
		const k = b.key.split("::");
		return {
			title: "Drop this session binding?",
			body: `${k.length >= 4 ? `${k.slice(2, -1).join("::")} (${k[1]}, ${k[k.length - 1]})` : b.key} stops being held on ${b.credential}; its next request is placed anew.`,
			ok: "Drop", danger: true,
			call: () => api.call("DELETE", `sessions/${enc(b.key)}`),
			failure: "drop the binding",
		};
	},
	strategy: (name) => ({
		title: `Switch to ${name}?`,
		body: "Every handler of this pool switches at once; rotation cursors and session bindings are kept. A config reload that changes the strategy ends the switch.",
		ok: "Switch",
		call: () => api.call("PUT", "strategy", { strategy: name }),
		failure: `switch to ${name}`,
	}),
};

async function act(kind, target) {
	const a = actions[kind](target, (target && current.bound[target.name]) || 0);
	if (!(await confirm(a))) return false;
	try {
		await a.call();
		banner("");
		return true;
	} catch (e) {
		banner(`Could not ${a.failure}: ${e.toString()}`);
		return false;
	} finally {
		refresh();
	}
}

$("strategy").addEventListener("change", async (ev) => {
	const want = ev.target.value;
	const ok = await act("strategy", want);
	if (!ok) ev.target.value = current.strategy;
});

refresh();
