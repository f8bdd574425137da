/** An ECharts pie, importing only the pie chart, tooltip, legend and the canvas renderer. */
import { PieChart as Pie } from 'echarts/charts';
import { LegendComponent, TooltipComponent } from 'echarts/components';
import * as echarts from 'echarts/core';
import { CanvasRenderer } from 'echarts/renderers';
import { useEffect, useRef } from 'react';

echarts.use([Pie, TooltipComponent, LegendComponent, CanvasRenderer]);

export default function PieChart(props: { data: { name: string; value: number; label: string }[]; label: string }) {
  const element = useRef<HTMLDivElement>(null);

  useEffect(() => {
    if (!element.current) return;
    const chart = echarts.init(element.current, undefined, { renderer: 'canvas' });
    const labels = new Map(props.data.map((item) => [item.name, item.label]));
    chart.setOption({
      color: ['#0f766e', '#f59e0b', '#3b82f6', '#ef4444', '#8b5cf6', '#64748b'],
      tooltip: { trigger: 'item', formatter: (params: { name: string }) => labels.get(params.name) ?? params.name },
      legend: { bottom: 0, icon: 'circle' },
      series: [
        {
          type: 'pie',
          radius: ['45%', '70%'],
          center: ['50%', '42%'],
          label: { show: false },
          data: props.data.map(({ name, value }) => ({ name, value })),
        },
      ],
    });
    const resize = () => chart.resize();
    window.addEventListener('resize', resize);
    return () => {
      window.removeEventListener('resize', resize);
      chart.dispose();
    };
  }, [props.data]);

  return <div ref={element} className="chart" role="img" aria-label={props.label} data-testid="bill-chart" />;
}
