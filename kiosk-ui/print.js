// Printable pages (receipt, consent form): the "Print" button prints; it is hidden on paper.
'use strict';
document.getElementById('print')?.addEventListener('click', () => window.print());
