// Choosing a grid: one list of every grid in a small city; in a big one (more
// than ref.SMALL_CITY_GRIDS) a community first, then its grids, asked of
// central when the community is chosen.

import * as ref from "./ref.js";
import { field, h, select } from "./ui.js";

function gridOptions(list, none) {
  return [
    { value: "", label: none },
    ...list
      .filter((a) => a.level === "grid")
      .map((a) => ({ value: a.code, label: `${a.name} · ${a.code}` })),
  ];
}

function setOptions(el, options) {
  el.replaceChildren(...options.map((o) => h("option", { value: o.value }, o.label)));
}

/**
 * A grid chooser.
 * @param {object} options
 * @param {string} options.label the label of the grid list
 * @param {string} options.none the first option: no grid
 * @param {string} [options.name] the grid list's form name
 * @returns {Promise<{fields: Node[], grid: HTMLSelectElement}>} the fields to
 *   place and the grid list (its value: the chosen code; "change" when chosen)
 */
export async function gridChooser({ label, none, name }) {
  const [areas, big] = await Promise.all([ref.areas(), ref.isBigCity()]);
  if (!big) {
    const grid = select(gridOptions(areas, none), { label, name });
    return { fields: [field(label, grid)], grid };
  }
  const community = select(
    [
      { value: "", label: "Choose a community…" },
      ...areas
        .filter((a) => a.level === "community")
        .map((a) => ({ value: a.code, label: `${a.name} · ${ref.areaPath(a.code)}` })),
    ],
    { label: "Community", name: name ? `${name}-community` : undefined },
  );
  const grid = select(gridOptions([], none), { label, name });
  grid.disabled = true;
  community.addEventListener("change", async () => {
    const chosen = community.value;
    grid.disabled = true;
    const list = chosen ? await ref.gridsUnder(chosen).catch(() => []) : [];
    if (community.value !== chosen) return; // chosen again meanwhile
    setOptions(grid, gridOptions(list, none));
    grid.disabled = !chosen;
    grid.dispatchEvent(new Event("change"));
  });
  return {
    fields: [field(`${label}: community`, community), field(label, grid)],
    grid,
  };
}
