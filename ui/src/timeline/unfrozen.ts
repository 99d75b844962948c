// ECharts under Tauri's `freezePrototype` (tauri.conf.json): with `Object.prototype` frozen, its
// non-writable `constructor` cannot be shadowed by assignment. ECharts' scheduler, when its module
// is first evaluated, copies every name `for ... in` finds on `GlobalModel.prototype` onto plain
// objects, and TypeScript's `__extends` left `constructor` enumerable there: the copy throws and the
// whole window stays blank. Making those `constructor`s non-enumerable (as a class's own are) hides
// them from `for ... in` and changes nothing else. This module must be evaluated before
// `echarts/core`: `echarts.ts` imports it first.
//
// The two modules are not in ECharts' `exports` map, hence the paths into node_modules; they
// resolve to the very files ECharts imports itself, so these are the same classes.
// @ts-expect-error: no type declarations for ECharts' internal modules.
import GlobalModel from "../../node_modules/echarts/lib/model/Global.js";
// @ts-expect-error: as above.
import ExtensionAPI from "../../node_modules/echarts/lib/core/ExtensionAPI.js";

function hideConstructors(clazz: { prototype: object }) {
  for (let p: object | null = clazz.prototype; p && p !== Object.prototype; p = Object.getPrototypeOf(p)) {
    const own = Object.getOwnPropertyDescriptor(p, "constructor");
    if (own && own.enumerable) Object.defineProperty(p, "constructor", { ...own, enumerable: false });
  }
}

hideConstructors(GlobalModel as { prototype: object });
hideConstructors(ExtensionAPI as { prototype: object });
