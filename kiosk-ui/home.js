// The service's start page: shows whether the service answers.
fetch('/healthz').then(r => r.json()).then(h => {
  document.getElementById('status').textContent =
    'Dịch vụ đang hoạt động (' + h.embedders.join(' + ') + '). / Service is running.';
}).catch(() => {
  document.getElementById('status').textContent = 'Không kết nối được dịch vụ. / Service unreachable.';
});
