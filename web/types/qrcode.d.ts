/** The part of `qrcode` the browser uses, typed without @types/qrcode (which brings in Node's types). */
declare module 'qrcode' {
  interface ToStringOptions {
    type?: 'svg' | 'terminal' | 'utf8';
    margin?: number;
    errorCorrectionLevel?: 'low' | 'medium' | 'quartile' | 'high' | 'L' | 'M' | 'Q' | 'H';
    width?: number;
    color?: { dark?: string; light?: string };
  }
  const QRCode: { toString(text: string, options?: ToStringOptions): Promise<string> };
  export default QRCode;
}
