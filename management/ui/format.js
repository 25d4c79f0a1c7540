// Numbers, durations and times as the dashboard shows them.

const grouped = new Intl.NumberFormat("en-US");

// count shows n whole below 10,000 and compact above (12.3k, 4.56M).
export function count(n) {
	n = Number(n) || 0;
	const a = Math.abs(n);
	if (a < 10000) return grouped.format(n);
	for (const [size, unit] of [[1e9, "B"], [1e6, "M"], [1e3, "k"]]) {
		if (a >= size) {
			const v = n / size;
			return (Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 10 ? v.toFixed(1) : v.toFixed(2)) + unit;
		}
	}
	return grouped.format(n);
}

// duration shows ms as the two largest units: 42s, 9m 05s, 2h 05m, 3d 4h.
export function duration(ms) {
	let sec = Math.max(0, Math.ceil(ms / 1000));
	if (sec < 60) return sec + "s";
	const d = Math.floor(sec / 86400);
	sec -= d * 86400;
	const hr = Math.floor(sec / 3600);
	sec -= hr * 3600;
	const min = Math.floor(sec / 60);
	sec -= min * 60;
	const two = (v) => String(v).padStart(2, "0");
	if (d > 0) return `${d}d ${hr}h`;
	if (hr > 0) return `${hr}h ${two(min)}m`;
	return `${min}m ${two(sec)}s`;
}

// clock shows a time of day, local: 18:42:07.
export function clock(date) {
	return date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false });
}

// hourMinute shows 18:42.
export function hourMinute(date) {
	return date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", hour12: false });
}

// ago shows how long ago ms was: "just now", "12s ago".
export function ago(ms) {
	return ms < 1500 ? "just now" : duration(ms) + " ago";
}

// ttl shows a number of seconds as a setting: 1h, 90m, 45s.
export function ttl(seconds) {
	if (seconds % 3600 === 0) return seconds / 3600 + "h";
	if (seconds % 60 === 0) return seconds / 60 + "m";
	return seconds + "s";
}

// The series colours, one per credential in list order.
const palette = ["#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#b07aa1", "#edc948", "#9c755f", "#ff9da7", "#86bcb6", "#8cd17d", "#a0cbe8"];

export function colour(i) {
	return palette[i % palette.length];
}
