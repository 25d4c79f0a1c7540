// A stacked bar chart of per-minute values, drawn as SVG.

import { s, attr } from "./dom.js";
import { count, hourMinute } from "./format.js";

const HEIGHT = 132;
const M = { top: 8, right: 4, bottom: 18, left: 42 };

function niceMax(v) {
	if (!(v > 0)) return 1;
	const p = 10 ** Math.floor(Math.log10(v));
	for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
	return 10 * p;
}

// Chart draws into an <svg>: slots are the minutes, oldest first, each
// {start: Date, parts: [{name, colour, value}]}; unit names the values in
// tooltips.
export class Chart {
	constructor(svg, unit, emptyText) {
		this.svg = svg;
		this.unit = unit;
		this.emptyText = emptyText;
		this.grid = s("g", { class: "grid" });
		this.bars = s("g", { class: "bars" });
		this.axis = s("g", { class: "axis" });
		svg.append(this.grid, this.bars, this.axis);
		this.slots = [];
		new ResizeObserver(() => this.draw(this.slots)).observe(svg);
	}

	draw(slots) {
		this.slots = slots;
		const width = Math.max(200, Math.round(this.svg.clientWidth || 600));
		attr(this.svg, "viewBox", `0 0 ${width} ${HEIGHT}`);
		const plotW = width - M.left - M.right;
		const plotH = HEIGHT - M.top - M.bottom;
		let peak = 0;
		for (const slot of slots) peak = Math.max(peak, slot.parts.reduce((a, p) => a + p.value, 0));
		const top = niceMax(peak);
		const y = (v) => M.top + plotH - (v / top) * plotH;

		const grid = [], axis = [], bars = [];
		for (const v of [0, top / 2, top]) {
			grid.push(s("line", { x1: M.left, x2: width - M.right, y1: y(v), y2: y(v) }));
			axis.push(s("text", { x: M.left - 6, y: y(v) + 3.5, "text-anchor": "end", text: count(v) }));
		}
		const n = slots.length || 1;
		const step = plotW / n;
		const barW = Math.max(1, step - Math.min(2, step * 0.25));
		slots.forEach((slot, i) => {
			const x = M.left + i * step + (step - barW) / 2;
			let base = 0;
			for (const part of slot.parts) {
				if (!(part.value > 0)) continue;
				const y0 = y(base), y1 = y(base + part.value);
				base += part.value;
				bars.push(s("rect", {
					class: "bar", x: x.toFixed(1), y: y1.toFixed(1), width: barW.toFixed(1),
					height: Math.max(0.5, y0 - y1).toFixed(1), fill: part.colour,
				}, s("title", { text: `${hourMinute(slot.start)} · ${part.name}: ${count(part.value)} ${this.unit}` })));
			}
			if (i % 15 === 0 || i === slots.length - 1) {
				const last = i === slots.length - 1;
				axis.push(s("text", {
					x: last ? width - M.right : M.left + i * step, y: HEIGHT - 4,
					"text-anchor": last ? "end" : "start", text: last ? "now" : hourMinute(slot.start),
				}));
			}
		});
		if (peak === 0) {
			axis.push(s("text", { class: "empty", x: M.left + plotW / 2, y: M.top + plotH / 2, "text-anchor": "middle", text: this.emptyText }));
		}
		// one replacement per layer within one task: no frame shows it half drawn
		this.grid.replaceChildren(...grid);
		this.bars.replaceChildren(...bars);
		this.axis.replaceChildren(...axis);
	}
}
