// ECharts with only what the timeline draws: registered once, when this module is first imported,
// so the bundle carries a scatter chart and five components instead of the whole library.
// `./unfrozen` first: it makes ECharts evaluate under Tauri's frozen `Object.prototype`.
import "./unfrozen";
import { ScatterChart } from "echarts/charts";
import {
  DataZoomInsideComponent,
  DataZoomSliderComponent,
  GridComponent,
  MarkAreaComponent,
  MarkLineComponent,
  TooltipComponent,
} from "echarts/components";
import * as echarts from "echarts/core";
import { CanvasRenderer } from "echarts/renderers";

echarts.use([
  ScatterChart,
  GridComponent,
  TooltipComponent,
  DataZoomInsideComponent,
  DataZoomSliderComponent,
  MarkAreaComponent,
  MarkLineComponent,
  CanvasRenderer,
]);

export { echarts };
export type { ECElementEvent, EChartsCoreOption, EChartsType } from "echarts/core";
