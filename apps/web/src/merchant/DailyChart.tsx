/** Collections per business day: bars of the amount (yuan) and a line of the count. Only what it uses of ECharts. */
import { BarChart, LineChart } from 'echarts/charts';
import { GridComponent, LegendComponent, TooltipComponent } from 'echarts/components';
import * as echarts from 'echarts/core';
import { CanvasRenderer } from 'echarts/renderers';
import { useEffect, useRef } from 'react';
import { fenToYuanText } from '../lib/money.js';
import type { SummaryDay } from './types.js';

echarts.use([BarChart, LineChart, GridComponent, TooltipComponent, LegendComponent, CanvasRenderer]);

export default function DailyChart(props: {
  days: SummaryDay[];
  label: string;
  amountName: string;
  countName: string;
}) {
  const element = useRef<HTMLDivElement>(null);

  useEffect(() => {
    if (!element.current) return;
    const chart = echarts.init(element.current, undefined, { renderer: 'canvas' });
    chart.setOption({
      color: ['#0f766e', '#f59e0b'],
      tooltip: { trigger: 'axis' },
      legend: { top: 0 },
      grid: { left: 56, right: 40, top: 36, bottom: 28 },
      xAxis: { type: 'category', data: props.days.map((day) => day.date.slice(5)) },
      yAxis: [
        { type: 'value', name: '¥', minInterval: 1 },
        { type: 'value', minInterval: 1, splitLine: { show: false } },
      ],
      series: [
        {
          name: props.amountName,
          type: 'bar',
          barMaxWidth: 18,
          // Yuan as text, parsed once for drawing only: the numbers shown elsewhere stay exact fen.
          data: props.days.map((day) => Number(fenToYuanText(day.amount))),
        },
        {
          name: props.countName,
          type: 'line',
          yAxisIndex: 1,
          data: props.days.map((day) => day.count),
        },
      ],
    });
    const resize = () => chart.resize();
    window.addEventListener('resize', resize);
    return () => {
      window.removeEventListener('resize', resize);
      chart.dispose();
    };
  }, [props.days, props.amountName, props.countName]);

  return (
    <div ref={element} className="portal-chart" role="img" aria-label={props.label} data-testid="dashboard-chart" />
  );
}
