// The management API as the page calls it: relative to the mount the page
// was loaded from (<mount>/ui/ → <mount>/), with the page's ?pool= on every
// call, and the management key, once typed in, as a Bearer token.

const KEY = "cliproxy.managementKey";

// ApiError is an answer the API refused, with its status, code and message.
export class ApiError extends Error {
	constructor(status, code, message) {
		super(message);
		this.status = status;
		this.code = code;
	}
	toString() {
		return `${this.status} ${this.code}: ${this.message}`;
	}
}

export class API {
	constructor(location) {
		this.base = new URL("../", location);
		this.pool = new URLSearchParams(location.search).get("pool") || "";
		// the server's clock minus ours, from the Date of the answers, so
		// countdowns end when the gateway's blocks do
		this.skew = null;
	}

	get key() {
		return sessionStorage.getItem(KEY) || "";
	}

	set key(v) {
		if (v) sessionStorage.setItem(KEY, v);
		else sessionStorage.removeItem(KEY);
	}

	// now is the gateway's time, in ms.
	now() {
		return Date.now() + (this.skew || 0);
	}

	url(path) {
		const u = new URL(path, this.base);
		if (this.pool) u.searchParams.set("pool", this.pool);
		return u;
	}

	// call sends method to path (relative to the mount) and returns the
	// parsed answer, or throws an ApiError.
	async call(method, path, body) {
		const headers = { Accept: "application/json" };
		const key = this.key;
		if (key) headers.Authorization = "Bearer " + key;
		if (body !== undefined) headers["Content-Type"] = "application/json";
		let res;
		try {
			res = await fetch(this.url(path), {
				method,
				headers,
				body: body === undefined ? undefined : JSON.stringify(body),
				cache: "no-store",
				credentials: "omit",
				redirect: "error",
			});
		} catch (e) {
			throw new ApiError(0, "unreachable", "cannot reach the management API: " + e.message);
		}
		const date = Date.parse(res.headers.get("Date") || "");
		if (!Number.isNaN(date)) {
			// Date is in whole seconds: take the middle of its second, and
			// keep the estimate unless it is off by more than that, so a
			// countdown does not stutter between refreshes
			const skew = date + 500 - Date.now();
			if (this.skew === null || Math.abs(skew - this.skew) > 1000) this.skew = skew;
		}
		let data = null;
		const raw = await res.text();
		try {
			data = raw ? JSON.parse(raw) : null;
		} catch {
			data = null;
		}
		if (!res.ok) {
			const code = (data && data.code) || "http_" + res.status;
			const msg = (data && (data.error || data.message)) || raw.trim() || res.statusText;
			throw new ApiError(res.status, code, msg);
		}
		return data;
	}

	get(path) {
		return this.call("GET", path);
	}
}
