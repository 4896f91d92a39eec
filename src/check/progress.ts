/** A progress line on a terminal while checks run: rewritten in place, erased when done. */
export interface Progress {
  stop(): void;
}

const EVERY_MS = 200;

export function showProgress(stream: NodeJS.WritableStream, counts: () => { readonly done: number; readonly total: number }): Progress {
  let shown = '';
  const draw = () => {
    const { done, total } = counts();
    const text = `checking images: ${done}/${total}`;
    if (text !== shown) stream.write(`\r\x1b[2K${text}`);
    shown = text;
  };
  const timer = setInterval(draw, EVERY_MS);
  timer.unref();
  return {
    stop() {
      clearInterval(timer);
      if (shown !== '') stream.write('\r\x1b[2K');
    },
  };
}
