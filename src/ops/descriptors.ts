/** EMFILE (this process) or ENFILE (the whole system): out of file descriptors, the router's shortage. */
export function isOutOfDescriptors(code: string | undefined): boolean {
  return code === 'EMFILE' || code === 'ENFILE';
}
