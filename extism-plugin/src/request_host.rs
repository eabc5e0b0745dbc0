//! The plugin's [`Host`]: one request's HTTP messages, kept in the plugin between
//! `vcl_recv` and `vcl_backend_response`.

use std::borrow::Cow;

use rvedge::runtime::abi::HeaderSet;
use rvedge::runtime::exchange::HeaderList;
use rvedge::runtime::{Host, HostError, HostResult, HttpRequest, HttpResponse};

/// Log lines a request keeps; a tenant that logs more is not allowed to grow the plugin's
/// memory without bound.
const MAX_LOG_LINES: usize = 1000;

/// The messages of one request, filled in as the exchange goes on: `bereq` exists from the
/// backend side on, `beresp` once a response arrived, `resp` for `on_deliver`.
#[derive(Debug, Default)]
pub struct RequestHost {
    pub req: HttpRequest,
    pub bereq: Option<HttpRequest>,
    pub resp: Option<HttpResponse>,
    pub beresp: Option<HttpResponse>,
    pub backend: Option<String>,
    pub hash: Vec<u8>,
    pub log: Vec<String>,
}

impl RequestHost {
    pub fn new(req: HttpRequest) -> RequestHost {
        RequestHost {
            req,
            ..RequestHost::default()
        }
    }

    fn headers(&mut self, set: HeaderSet) -> HostResult<&mut Vec<(String, String)>> {
        match set {
            HeaderSet::Request => Some(&mut self.req.headers),
            HeaderSet::BackendRequest => self.bereq.as_mut().map(|request| &mut request.headers),
            HeaderSet::Response => self.resp.as_mut().map(|response| &mut response.headers),
            HeaderSet::BackendResponse => {
                self.beresp.as_mut().map(|response| &mut response.headers)
            }
        }
        .ok_or(HostError::NotAllowed)
    }

    fn request(&mut self, set: HeaderSet) -> HostResult<&mut HttpRequest> {
        match set {
            HeaderSet::Request => Ok(&mut self.req),
            HeaderSet::BackendRequest => self.bereq.as_mut().ok_or(HostError::NotAllowed),
            HeaderSet::Response | HeaderSet::BackendResponse => Err(HostError::NotAllowed),
        }
    }

    fn response(&mut self, set: HeaderSet) -> HostResult<&mut HttpResponse> {
        match set {
            HeaderSet::Response => self.resp.as_mut(),
            HeaderSet::BackendResponse => self.beresp.as_mut(),
            HeaderSet::Request | HeaderSet::BackendRequest => None,
        }
        .ok_or(HostError::NotAllowed)
    }
}

impl Host for RequestHost {
    fn header(&mut self, set: HeaderSet, name: &str) -> HostResult<Option<Cow<'_, str>>> {
        let headers = self.headers(set)?;
        Ok(headers.header_value(name).map(Cow::Borrowed))
    }

    fn set_header(&mut self, set: HeaderSet, name: &str, value: &str) -> HostResult<()> {
        let headers = self.headers(set)?;
        headers.retain(|(key, _)| !key.eq_ignore_ascii_case(name));
        headers.push((name.into(), value.into()));
        Ok(())
    }

    fn append_header(&mut self, set: HeaderSet, name: &str, value: &str) -> HostResult<()> {
        self.headers(set)?.push((name.into(), value.into()));
        Ok(())
    }

    fn unset_header(&mut self, set: HeaderSet, name: &str) -> HostResult<usize> {
        let headers = self.headers(set)?;
        let before = headers.len();
        headers.retain(|(key, _)| !key.eq_ignore_ascii_case(name));
        Ok(before - headers.len())
    }

    fn header_count(&mut self, set: HeaderSet) -> HostResult<usize> {
        Ok(self.headers(set)?.len())
    }

    fn header_at(
        &mut self,
        set: HeaderSet,
        index: usize,
    ) -> HostResult<Option<(Cow<'_, str>, Cow<'_, str>)>> {
        let headers = self.headers(set)?;
        Ok(headers
            .get(index)
            .map(|(name, value)| (Cow::Borrowed(name.as_str()), Cow::Borrowed(value.as_str()))))
    }

    fn url(&mut self, set: HeaderSet) -> HostResult<Cow<'_, str>> {
        Ok(Cow::Borrowed(self.request(set)?.url.as_str()))
    }

    fn set_url(&mut self, set: HeaderSet, url: &str) -> HostResult<()> {
        self.request(set)?.url = url.into();
        Ok(())
    }

    fn method(&mut self, set: HeaderSet) -> HostResult<Cow<'_, str>> {
        Ok(Cow::Borrowed(self.request(set)?.method.as_str()))
    }

    fn set_method(&mut self, set: HeaderSet, method: &str) -> HostResult<()> {
        self.request(set)?.method = method.into();
        Ok(())
    }

    fn status(&mut self, set: HeaderSet) -> HostResult<u16> {
        Ok(self.response(set)?.status)
    }

    fn set_status(&mut self, set: HeaderSet, status: u16) -> HostResult<()> {
        self.response(set)?.status = status;
        Ok(())
    }

    fn request_body(&mut self) -> HostResult<Cow<'_, [u8]>> {
        Ok(Cow::Borrowed(&self.req.body))
    }

    fn set_backend(&mut self, name: &str) -> HostResult<()> {
        self.backend = Some(name.into());
        Ok(())
    }

    fn add_hash(&mut self, data: &[u8]) -> HostResult<()> {
        self.hash.extend_from_slice(data);
        Ok(())
    }

    fn log(&mut self, message: &str) {
        if self.log.len() < MAX_LOG_LINES {
            self.log.push(message.into());
        }
    }
}
